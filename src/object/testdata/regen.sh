#!/usr/bin/env bash
# Regenerates the tool-derived expectations the loader tests compare against, from bpf/*.o:
#   NAME.readelf.json  llvm-readelf --elf-output-style=JSON -S -s (sections, symbols)
#   NAME.relocs.txt    llvm-readelf -r (relocations)
#   NAME.objdump.txt   llvm-objdump -d -r (instructions with their relocations)
#   NAME.btf.json      bpftool -j btf dump file (BTF types as the kernel's tool reads them)
#   objects.sha256     the objects these were made from (the tests check it)
# Run after `npm run build:bpf` changes an object. Needs llvm-16 and bpftool.
set -euo pipefail
cd "$(dirname "$0")"
ROOT=../../..
READELF=${READELF:-llvm-readelf-16}
OBJDUMP=${OBJDUMP:-llvm-objdump-16}
: > objects.sha256
for obj in "$ROOT"/bpf/*.bpf.o; do
  name=$(basename "$obj" .bpf.o)
  "$READELF" --elf-output-style=JSON -S -s "$obj" > "$name.readelf.json"
  "$READELF" -r "$obj" > "$name.relocs.txt"
  "$OBJDUMP" -d -r "$obj" | sed -e 's/^.*file format/file format/' > "$name.objdump.txt"
  bpftool -j btf dump file "$obj" > "$name.btf.json"
  (cd "$ROOT" && sha256sum "bpf/$name.bpf.o") >> objects.sha256
done
echo "regenerated $(ls *.btf.json | wc -l) objects' expectations"
