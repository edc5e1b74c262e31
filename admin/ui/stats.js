// The dashboard's figures: charts of calls by result and of the rates over
// time (uPlot, vendored under /ui/vendor/uplot), the profile table with the
// pilot week's held decisions, and the per-DID table that answers "should
// we release this number?". Values from the API are inserted as text.
'use strict';
(() => {
  const ui = window.callscreenUI;
  const { api, el, fmtTime } = ui;
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const charts = {};
  const known = { profiles: new Set(), dids: new Set() };
  let timer = 0;
  let loading = null;

  const pct = (x) => (x * 100).toFixed(1) + '%';
  const pctOrDash = (x, denom) => (denom ? pct(x) : '–');

  function query(withDID) {
    const q = new URLSearchParams({ range: $('range').value });
    if ($('chart-profile').value) q.set('profile', $('chart-profile').value);
    if (withDID && $('chart-did').value) q.set('did', $('chart-did').value);
    return q.toString();
  }

  // --- charts ------------------------------------------------------------

  // Each chart is drawn from the series columns of GET /api/v1/stats. The
  // stacked chart draws running sums and fills between them; its legend
  // shows each series' own value.
  const RESULTS = [
    { key: 'result_allow', label: 'allowed', color: '#1b6e3a' },
    { key: 'result_block', label: 'blocked', color: '#b3261e' },
    { key: 'result_voicemail', label: 'voicemail', color: '#8a5a00' },
  ];
  const RATES = [
    { key: 'interception_rate', label: 'interception rate', color: '#b3261e' },
    { key: 'challenge_pass_through', label: 'challenge pass-through', color: '#1b6e3a' },
  ];
  const HELD_RATES = [
    { key: 'would_block_rate', label: 'would have blocked', color: '#6a1b9a', dash: [6, 4] },
    { key: 'would_challenge_rate', label: 'would have challenged', color: '#1565c0', dash: [6, 4] },
  ];

  // Axis labels: the date over the time, so every tick says which day.
  function fmtAxisTime(u, splits) {
    return splits.map((t) => {
      const s = fmtTime(new Date(t * 1000), false);
      return s.slice(5, 10) + '\n' + s.slice(11);
    });
  }

  function draw(id, defs, sum, stacked) {
    const fig = $(id);
    const box = fig.querySelector('.plot');
    const ser = sum.series;
    const xs = ser.time;
    const raw = defs.map((d) => ser[d.key].map((v) => (v === null || v === undefined ? null : v)));
    let data = raw;
    if (stacked) {
      // Running sums, bottom series first.
      data = [];
      const acc = xs.map(() => 0);
      for (const col of raw) {
        for (let i = 0; i < xs.length; i++) acc[i] += col[i] || 0;
        data.push(acc.slice());
      }
    }
    const signature = defs.map((d) => d.key).join(',') + (stacked ? ':stacked:' : ':') + sum.step_seconds;
    const width = Math.max(320, box.clientWidth || fig.clientWidth || 600);
    const series = [{ label: 'time', value: (u, v) => (v === null ? '' : fmtTime(new Date(v * 1000), false)) }];
    defs.forEach((d, i) => {
      const s = {
        // Rates exist only where there were calls: show their points, and
        // join them across the empty stretches.
        label: d.label, stroke: d.color, width: 1.5, points: stacked ? { show: false } : { show: true, size: 6, fill: d.color },
        spanGaps: !stacked,
        value: (u, v, si, idx) => {
          if (idx === null || idx === undefined) return '–';
          const rv = raw[i][idx];
          if (rv === null) return '–';
          return stacked ? String(rv) : pct(rv);
        },
      };
      if (d.dash) s.dash = d.dash;
      if (stacked) s.fill = d.color + '55';
      if (!stacked) s.scale = '%';
      series.push(s);
    });
    const opts = {
      width, height: 220, series,
      scales: stacked ? { x: { time: true } } : { x: { time: true }, '%': { auto: false, range: [0, 1] } },
      axes: [
        { values: fmtAxisTime, space: 70, size: 46 },
        stacked ? { label: 'calls per ' + stepLabel(sum.step_seconds) } : { scale: '%', values: (u, splits) => splits.map((v) => Math.round(v * 100) + '%') },
      ],
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
    };
    if (stacked) {
      // Fill each series down to the one below it.
      opts.bands = defs.slice(1).map((d, i) => ({ series: [i + 2, i + 1], fill: d.color + '55' }));
      opts.series.forEach((s, i) => { if (i > 1) s.fill = undefined; });
    }
    const payload = [xs, ...data];
    let c = charts[id];
    if (c && c.signature === signature && c.u.width === width) {
      c.u.setData(payload);
    } else {
      if (c) c.u.destroy();
      box.replaceChildren();
      c = { u: new window.uPlot(opts, payload, box), signature };
      charts[id] = c;
    }
    // For people who read rather than look, and for the tests: each
    // series' legend row says how many points it has and their total.
    const rows = box.querySelectorAll('.u-legend .u-series');
    defs.forEach((d, i) => {
      const row = rows[i + 1];
      if (!row) return;
      const pts = raw[i].filter((v) => v !== null);
      row.dataset.series = d.key;
      row.dataset.points = String(pts.length);
      row.dataset.sum = stacked ? String(pts.reduce((a, b) => a + b, 0)) : '';
    });
    fig.dataset.range = $('range').value;
    fig.dataset.step = String(sum.step_seconds);
    fig.dataset.points = String(xs.length);
  }

  function stepLabel(s) {
    if (s % 86400 === 0) return s / 86400 + ' d';
    if (s % 3600 === 0) return s / 3600 + ' h';
    return s / 60 + ' min';
  }

  // --- tables ------------------------------------------------------------

  function topReasons(list) {
    const td = el('td', null, 'top-reasons');
    for (const r of list || []) {
      const span = el('span', null, 'reason');
      span.title = r.description;
      span.append(el('code', r.code), ' ' + r.count);
      td.append(span);
    }
    return td;
  }

  function profileRow(p) {
    const tr = el('tr');
    tr.dataset.profile = p.profile;
    const monitored = p.monitored > 0;
    tr.append(el('td', p.profile === '*' ? 'all profiles' : p.profile), el('td', p.calls), el('td', p.allowed),
      el('td', p.blocked), el('td', p.challenged), el('td', p.passed), el('td', p.failed), el('td', p.abandoned),
      el('td', p.voicemail), el('td', monitored ? p.held : '–', 'held'),
      el('td', monitored ? pct(p.would_block_rate) : '–', 'would-block'),
      el('td', monitored ? pct(p.would_challenge_rate) : '–', 'would-challenge'),
      el('td', pct(p.interception_rate), 'interception'),
      el('td', pctOrDash(p.challenge_pass_through, p.passed + p.failed + p.abandoned), 'pass-through'),
      el('td', pct(p.junk_share), 'junk'), topReasons(p.top_reasons));
    if (monitored && p.monitored === p.calls) {
      tr.cells[12].textContent = '0.0% (monitor)';
    }
    return tr;
  }

  // compat reads the older per-profile totals.
  function compat(p) {
    return Object.assign({ calls: p.total, monitored: 0, junk_share: 0, top_reasons: [] }, p);
  }

  function renderProfiles(sum) {
    const body = $('stats-table').tBodies[0];
    body.replaceChildren();
    const rows = sum.profiles.slice();
    if (rows.length > 1) rows.push(sum.total);
    if (rows.length === 0) {
      const tr = el('tr');
      const td = el('td', 'No calls in this range.');
      td.colSpan = 16;
      tr.append(td);
      body.append(tr);
    }
    for (const p of rows) body.append(profileRow(p));
  }

  // sparkline draws a DID's junk share over the range.
  function sparkline(points) {
    const w = 96;
    const h = 24;
    const svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('width', w);
    svg.setAttribute('height', h);
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('class', 'spark');
    const n = points.length;
    const xy = [];
    points.forEach((p, i) => {
      if (p.junk_share === null) return;
      xy.push([(n > 1 ? (i * (w - 2)) / (n - 1) : w / 2) + 1, h - 1 - p.junk_share * (h - 2)]);
    });
    const title = document.createElementNS(SVG, 'title');
    title.textContent = points.map((p) => fmtTime(p.time, false) + ': ' + p.calls + ' calls' + (p.junk_share === null ? '' : ', ' + pct(p.junk_share) + ' junk')).join('\n');
    svg.append(title);
    for (const [x, y] of xy) {
      const dot = document.createElementNS(SVG, 'circle');
      dot.setAttribute('cx', x.toFixed(1));
      dot.setAttribute('cy', y.toFixed(1));
      dot.setAttribute('r', '1.8');
      dot.setAttribute('fill', '#b3261e');
      svg.append(dot);
    }
    if (xy.length > 1) {
      const line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('points', xy.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '));
      line.setAttribute('fill', 'none');
      line.setAttribute('stroke', '#b3261e');
      line.setAttribute('stroke-width', '1.5');
      svg.append(line);
    }
    return svg;
  }

  const ARROWS = { up: '↑ rising', down: '↓ falling', flat: '→ steady' };

  function didRow(d) {
    const tr = el('tr');
    tr.dataset.did = d.did;
    const didCell = el('td');
    const pick = el('button', d.did, 'link');
    pick.type = 'button';
    pick.title = 'Chart this DID';
    pick.addEventListener('click', () => {
      known.dids.add(d.did);
      fillSelect($('chart-did'), known.dids, 'all DIDs');
      $('chart-did').value = d.did;
      refresh();
    });
    didCell.append(pick);
    const trend = el('td', null, 'trend');
    trend.append(sparkline(d.trend || []), ' ', el('span', ARROWS[d.trend_direction] || ''));
    const flag = el('td', d.release_hint ? 'release?' : '', d.release_hint ? 'flag' : '');
    if (d.release_hint) flag.title = d.release_hint;
    tr.append(didCell, el('td', (d.profiles || []).join(', ')), el('td', d.calls, 'calls'), el('td', d.allowed), el('td', d.blocked),
      el('td', d.challenged), el('td', d.passed), el('td', d.failed, 'failed'), el('td', d.abandoned, 'abandoned'),
      el('td', d.held), el('td', pct(d.junk_share), 'junk'),
      el('td', d.previous_junk_share === null ? '–' : pct(d.previous_junk_share), 'before'), trend, topReasons(d.top_reasons), flag);
    if (!d.release_hint) return [tr];
    // The hint in full, on a line of its own under the DID.
    const hr = el('tr', null, 'hint-row');
    hr.dataset.hintFor = d.did;
    const td = el('td', d.did + ': ' + d.release_hint, 'hint');
    td.colSpan = 15;
    hr.append(td);
    tr.classList.add('has-hint');
    return [tr, hr];
  }

  function renderDIDs(rows) {
    const body = $('did-table').tBodies[0];
    body.replaceChildren();
    if (!rows.length) {
      const tr = el('tr');
      const td = el('td', 'No calls in this range.');
      td.colSpan = 15;
      tr.append(td);
      body.append(tr);
    }
    for (const d of rows) body.append(...didRow(d));
  }

  function fillSelect(sel, values, allLabel) {
    const cur = sel.value;
    sel.replaceChildren(el('option', allLabel));
    sel.options[0].value = '';
    for (const v of [...values].sort()) {
      const o = el('option', v);
      o.value = v;
      sel.append(o);
    }
    sel.value = values.has(cur) ? cur : '';
  }

  function renderSource(sum) {
    const src = $('stats-source');
    const note = $('stats-note');
    src.textContent = sum.shared ? 'figures: all instances' : 'figures: this instance';
    src.classList.toggle('warn', !!sum.warning);
    const parts = [fmtTime(sum.from, false) + ' to ' + fmtTime(sum.to, false) + ', one point per ' + stepLabel(sum.step_seconds) + '.'];
    if (sum.rebuilding) parts.push('Still reading the decision log: older figures are coming in.');
    if (sum.warning) parts.push(sum.warning + '.');
    note.textContent = parts.join(' ');
    note.classList.toggle('error', !!sum.warning);
    const days = Math.round(sum.retention_seconds / 86400);
    $('range').querySelector('option[value="all"]').textContent = 'all kept (' + days + ' days)';
  }

  async function load() {
    const q = query(true);
    const sum = await api('GET', '/api/v1/stats?' + q);
    if (!sum.series) {
      // A server without statistics answers with per-profile totals only:
      // no charts and no DIDs to show.
      $('overview').hidden = true;
      $('dids').hidden = true;
      renderProfiles({ profiles: sum.profiles.map(compat), total: compat(sum.total) });
      return;
    }
    const dids = await api('GET', '/api/v1/stats/dids?' + query(false));
    for (const p of sum.profiles) known.profiles.add(p.profile);
    for (const d of dids) known.dids.add(d.did);
    fillSelect($('chart-profile'), known.profiles, 'all profiles');
    fillSelect($('chart-did'), known.dids, 'all DIDs');
    renderSource(sum);
    draw('chart-results', RESULTS, sum, true);
    draw('chart-rates', sum.total.monitored > 0 ? RATES.concat(HELD_RATES) : RATES, sum, false);
    renderProfiles(sum);
    renderDIDs(dids);
    // What the figures on the page answer, for people and tests to see.
    for (const id of ['chart-results', 'chart-rates']) $(id).dataset.query = q;
    document.body.dataset.statsLoaded = String(Number(document.body.dataset.statsLoaded || 0) + 1);
  }

  // refresh loads the figures; a refresh asked for while one runs runs
  // after it.
  function refresh() {
    if (loading) {
      loading.again = true;
      return loading.p;
    }
    const job = { again: false };
    document.body.dataset.statsBusy = 'true';
    job.p = load().catch(() => {}).finally(() => {
      loading = null;
      if (job.again) refresh();
      else document.body.dataset.statsBusy = 'false';
    });
    loading = job;
    return job.p;
  }

  for (const id of ['range', 'chart-profile', 'chart-did']) $(id).addEventListener('change', () => refresh());
  $('dids-csv').addEventListener('click', () => {
    ui.download('/api/v1/stats/dids.csv?' + query(false), 'callscreen-dids-' + $('range').value + '.csv')
      .catch((e) => ui.toast('Could not export: ' + e.message));
  });
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(refresh, 300);
  });

  ui.onStart(() => {
    if (!timer) timer = setInterval(refresh, 15000);
    return refresh();
  });
  let soon = 0;
  ui.onDecision(() => {
    clearTimeout(soon);
    soon = setTimeout(refresh, 1000);
  });
})();
