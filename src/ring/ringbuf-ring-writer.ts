/** A BPF ring buffer written from JavaScript: the synthetic rings prime.ts runs the parser on, and its tests'. */
import { RINGBUF_BUSY_BIT, RINGBUF_DISCARD_BIT } from './ringbuf-records.js';

/**
 * The doubly mapped data area of a ring buffer of `size` bytes (a power of two), as the parser reads
 * it: records from offset 0, by letter ('c' committed, 'd' discarded, 'b' busy), 4 bytes of data each
 * (16-byte records).
 */
export function ringbufWords(records: string, size: number): Int32Array {
  const words = new Int32Array(size / 2);
  for (let i = 0; i < records.length; i++) {
    const flag = records[i] === 'b' ? RINGBUF_BUSY_BIT : records[i] === 'd' ? RINGBUF_DISCARD_BIT : 0;
    words[i * 4] = words[i * 4 + size / 4] = (4 | flag) | 0;
  }
  return words;
}
