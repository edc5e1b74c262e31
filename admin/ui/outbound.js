// The "Outbound health" panel: our own numbers' calls per day from the
// CDRs, with the verdict. Drawn as plain inline SVG, so it can move to the
// page's chart library later. Every value is inserted as text.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const SVG = 'http://www.w3.org/2000/svg';
  const REFRESH_MS = 60000;
  const SERIES = [
    ['answered', 'answered, not short'],
    ['short', 'answered, short'],
    ['unreachable', 'unreachable'],
    ['busy', 'busy'],
    ['no_answer', 'no answer'],
  ];

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function svg(tag, attrs, text) {
    const e = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = String(text);
    return e;
  }

  const pct = (x) => Math.round(x * 100) + '%';

  // The days of the window, oldest first, as YYYY-MM-DD.
  function windowDays(status) {
    const out = [];
    if (!status.since) return out;
    const d = new Date(status.since + 'T00:00:00Z');
    for (let i = 0; i < status.window_days; i++) {
      out.push(new Date(d.getTime() + i * 86400000).toISOString().slice(0, 10));
    }
    return out;
  }

  // One stacked bar a day: the call outcomes.
  function chart(n, days) {
    const byDate = new Map((n.days || []).map((d) => [d.date, d]));
    const W = 320, H = 120, left = 28, bottom = 16, top = 6;
    const max = Math.max(1, ...days.map((d) => (byDate.get(d) || { calls: 0 }).calls));
    const bw = (W - left) / Math.max(1, days.length);
    const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'ob-chart', role: 'img',
      'aria-label': 'calls per day for ' + n.number });
    s.append(svg('line', { x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: 'ob-axis' }));
    s.append(svg('text', { x: left - 4, y: top + 8, 'text-anchor': 'end' }, max));
    s.append(svg('text', { x: left - 4, y: H - bottom, 'text-anchor': 'end' }, 0));
    days.forEach((date, i) => {
      const d = byDate.get(date);
      const x = left + i * bw + 2;
      if (d) {
        const parts = { answered: d.answered - d.short, short: d.short, unreachable: d.unreachable, busy: d.busy, no_answer: d.no_answer };
        let y = H - bottom;
        for (const [key, label] of SERIES) {
          const h = (parts[key] / max) * (H - bottom - top);
          if (h <= 0) continue;
          y -= h;
          const r = svg('rect', { x, y, width: Math.max(1, bw - 4), height: h, class: 'ob-' + key, 'data-series': key });
          r.append(svg('title', {}, date + ': ' + parts[key] + ' ' + label));
          s.append(r);
        }
      }
      if (days.length <= 14) {
        s.append(svg('text', { x: x + (bw - 4) / 2, y: H - 4, 'text-anchor': 'middle' }, date.slice(5)));
      }
    });
    return s;
  }

  function card(n, days) {
    const c = el('div', null, 'ob-card ob-' + n.verdict);
    c.dataset.number = n.number;
    c.dataset.verdict = n.verdict;
    const h = el('h3');
    h.append(el('span', n.number), el('span', n.verdict.replace(/_/g, ' '), 'ob-verdict'));
    c.append(h, el('p', n.summary, 'ob-summary'));
    const figures = el('dl', null, 'ob-figures');
    for (const [k, v] of [['calls', n.calls], ['answered', n.answered], ['short', n.short + ' (' + pct(n.short_share) + ')'],
      ['unreachable', n.unreachable + ' (' + pct(n.unreachable_share) + ')'], ['busy', n.busy], ['no answer', n.no_answer],
      ['destinations', n.distinct_destinations], ['per day', n.calls_per_day]]) {
      figures.append(el('dt', k), el('dd', v));
    }
    c.append(figures, chart(n, days));
    const legend = el('p', null, 'ob-legend');
    for (const [key, label] of SERIES) {
      const item = el('span');
      item.append(el('span', null, 'ob-swatch ob-' + key), label);
      legend.append(item);
    }
    c.append(legend);
    return c;
  }

  async function load() {
    const token = sessionStorage.getItem('callscreen.token') || '';
    const res = await fetch('/api/v1/outbound', { headers: token ? { Authorization: 'Bearer ' + token } : {} });
    if (!res.ok) throw new Error('outbound: ' + res.status);
    const st = await res.json();
    const days = windowDays(st);
    const parts = ['CDRs from ' + st.source];
    if (st.updated) parts.push('read ' + new Date(st.updated).toLocaleString());
    $('outbound-status').textContent = parts.join(', ') + '; the last ' + st.window_days + ' days.';
    $('outbound-status').classList.toggle('error', !!st.error);
    if (st.error) $('outbound-status').textContent += ' Last read failed: ' + st.error;
    const box = $('outbound-numbers');
    box.replaceChildren();
    if (!st.numbers.length) box.append(el('p', 'No outbound calls in the window.'));
    for (const n of st.numbers) box.append(card(n, days));
    $('outbound').dataset.loaded = 'true';
  }

  // Start once the page has signed in (app.js sets data-ready).
  function whenReady(fn) {
    if (document.body.dataset.ready === 'true') { fn(); return; }
    const obs = new MutationObserver(() => {
      if (document.body.dataset.ready === 'true') { obs.disconnect(); fn(); }
    });
    obs.observe(document.body, { attributes: true, attributeFilter: ['data-ready'] });
  }

  fetch('/api/v1/session').then((r) => r.json()).then((s) => {
    if (!s.outbound) return;
    whenReady(() => {
      $('outbound').hidden = false;
      const tick = () => load().catch((e) => { $('outbound-status').textContent = e.message; });
      tick();
      setInterval(tick, REFRESH_MS);
    });
  }).catch(() => {});
})();
