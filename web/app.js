// The bpfpipe live view: a WebSocket brings a snapshot about every 250 ms. Events are untrusted input:
// they only ever reach the page as text (textContent), never as markup.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const num = new Intl.NumberFormat('en-US');
  const MAX_POINTS = 480;
  const MAX_FIELDS = 14;
  const xs = [];
  const rates = [];
  const losts = [];
  let plot;
  let keep = 50;
  let columns;
  let withTs = false;

  function chartWidth() {
    return Math.max(320, $('chart').clientWidth || 800);
  }

  function makePlot() {
    plot = new uPlot({
      width: chartWidth(),
      height: 220,
      scales: { x: { time: true } },
      series: [
        {},
        { label: 'events/s', stroke: '#2980b9', width: 1.5, fill: 'rgba(41,128,185,0.08)' },
        { label: 'lost/s', stroke: '#c0392b', width: 1.5 },
      ],
    }, [xs, rates, losts], $('chart'));
    window.addEventListener('resize', () => plot.setSize({ width: chartWidth(), height: 220 }));
  }

  function addPoint(t, rate, lost) {
    xs.push(t);
    rates.push(rate);
    losts.push(lost);
    if (xs.length > MAX_POINTS) {
      xs.shift();
      rates.shift();
      losts.shift();
    }
  }

  function text(v) {
    if (v === undefined || v === null) return '';
    return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }

  function cell(tr, v) {
    const td = document.createElement('td');
    const s = text(v);
    td.textContent = s.length > 200 ? `${s.slice(0, 199)}…` : s;
    if (s.length > 28) td.title = s.slice(0, 2000);
    tr.appendChild(td);
    return td;
  }

  function packetSummary(p) {
    if (!p || typeof p !== 'object') return '';
    const ip = p.ipv4 || p.ipv6;
    const l4 = p.udp || p.tcp;
    const proto = p.udp ? 'udp' : p.tcp ? `tcp ${text(p.tcp.flags)}` : p.icmp ? 'icmp' : p.icmpv6 ? 'icmpv6' : p.arp ? 'arp' : '';
    if (ip) {
      const src = l4 ? `${text(ip.src)}:${text(l4.sport)}` : text(ip.src);
      const dst = l4 ? `${text(ip.dst)}:${text(l4.dport)}` : text(ip.dst);
      return `${src} → ${dst} ${proto} (${text(p.len)} B)`;
    }
    return `${proto} ${text(p.len)} B`;
  }

  // Ring columns (cpu, slot, the kernel timestamp when there is one), the packet summary, then the
  // decoded fields of the event struct.
  function setColumns(rec) {
    const fields = rec.event ? Object.keys(rec.event).slice(0, MAX_FIELDS) : ['data'];
    columns = fields;
    withTs = rec.ts !== undefined;
    const tr = $('latest').tHead.rows[0];
    tr.replaceChildren();
    for (const name of ['cpu', 'slot', ...(withTs ? ['time'] : []), 'packet', ...fields]) {
      const th = document.createElement('th');
      th.textContent = name;
      tr.appendChild(th);
    }
  }

  function addEvents(records) {
    const tbody = $('latest').tBodies[0];
    for (const rec of records) {
      if (!rec || typeof rec !== 'object') continue;
      const tr = document.createElement('tr');
      if (rec.lost !== undefined) {
        tr.className = 'lost';
        cell(tr, rec.cpu);
        cell(tr, rec.slot);
        if (withTs) cell(tr, '');
        const td = cell(tr, `lost ${text(rec.lost)} events`);
        td.colSpan = (columns ? columns.length : 1) + 1;
      } else {
        if (!columns) setColumns(rec);
        cell(tr, rec.cpu);
        cell(tr, rec.slot);
        if (withTs) cell(tr, rec.ts);
        cell(tr, packetSummary(rec.packet)).className = 'packet';
        for (const c of columns) cell(tr, c === 'data' && !rec.event ? rec.data : rec.event ? rec.event[c] : '');
      }
      tbody.insertBefore(tr, tbody.firstChild);
    }
    while (tbody.rows.length > keep) tbody.deleteRow(tbody.rows.length - 1);
  }

  function renderRings(rings) {
    const tbody = $('rings').tBodies[0];
    tbody.replaceChildren();
    for (const r of rings) {
      const tr = document.createElement('tr');
      cell(tr, r.channel);
      cell(tr, r.cpu);
      cell(tr, r.slot === null ? '' : r.slot);
      cell(tr, num.format(r.received));
      cell(tr, num.format(r.lost));
      if (r.lost > 0) tr.className = 'lost';
      tbody.appendChild(tr);
    }
  }

  function renderTop(top) {
    if (!top) return;
    $('top-section').hidden = false;
    $('top-field').textContent = top.field;
    const tbody = $('top').tBodies[0];
    tbody.replaceChildren();
    for (const v of top.values) {
      const tr = document.createElement('tr');
      cell(tr, v.value);
      cell(tr, num.format(v.count));
      cell(tr, top.total ? `${((100 * v.count) / top.total).toFixed(1)} %` : '');
      tbody.appendChild(tr);
    }
  }

  function onMessage(msg) {
    if (msg.type === 'hello') {
      $('title').textContent = text(msg.title);
      document.title = `${text(msg.title)} — bpfpipe live`;
      keep = msg.latest || keep;
      xs.length = rates.length = losts.length = 0;
      for (const [t, r, l] of msg.history || []) addPoint(t, r, l);
      $('latest').tBodies[0].replaceChildren();
      addEvents(msg.events || []);
      plot.setData([xs, rates, losts]);
      return;
    }
    if (msg.type !== 'tick') return;
    addPoint(msg.t, msg.rate, msg.lostRate);
    plot.setData([xs, rates, losts]);
    $('rate').textContent = num.format(msg.rate);
    $('received').textContent = num.format(msg.received);
    $('lost').textContent = num.format(msg.lost);
    $('lost-rate').textContent = num.format(msg.lostRate);
    renderRings(msg.rings || []);
    renderTop(msg.top);
    addEvents(msg.events || []);
  }

  function status(state, label) {
    const s = $('status');
    s.dataset.state = state;
    s.textContent = label;
  }

  function connect() {
    const ws = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
    ws.onopen = () => status('open', 'live');
    ws.onmessage = (m) => {
      let msg;
      try {
        msg = JSON.parse(m.data);
      } catch {
        return;
      }
      onMessage(msg);
    };
    ws.onclose = () => {
      status('closed', 'disconnected — retrying');
      setTimeout(connect, 1000);
    };
  }

  makePlot();
  connect();
})();
