// The callscreen supervisors' dashboard. Every value that comes from a call
// is inserted with textContent, never as HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'callscreen.token';
  const MAX_ROWS = 200;
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tokenRequired = false;
  let streamCtrl = null;
  let statsInterval = 0;
  const seen = new Set();

  class HTTPError extends Error {
    constructor(status, msg) { super(msg); this.status = status; }
  }

  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function authHeaders() {
    return token ? { Authorization: 'Bearer ' + token } : {};
  }

  async function api(method, path, body) {
    const opts = { method, headers: authHeaders() };
    if (body !== undefined) {
      opts.headers['Content-Type'] = 'application/json';
      opts.body = JSON.stringify(body);
    }
    const res = await fetch(path, opts);
    if (res.status === 401) {
      showLogin('The token was refused.');
      throw new HTTPError(401, 'the token was refused');
    }
    if (res.status === 204) return null;
    const type = res.headers.get('Content-Type') || '';
    const data = type.includes('application/json') ? await res.json() : await res.text();
    if (!res.ok) throw new HTTPError(res.status, (data && data.error) || res.statusText);
    return data;
  }

  let toastTimer = 0;
  function toast(msg) {
    $('toast').textContent = msg;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { $('toast').textContent = ''; }, 4000);
  }

  function setConn(text, live) {
    const c = $('conn');
    c.textContent = text;
    c.classList.toggle('live', !!live);
  }

  // --- sign in -----------------------------------------------------------

  function showLogin(msg) {
    if (streamCtrl) streamCtrl.abort();
    streamCtrl = null;
    $('app').hidden = true;
    $('login').hidden = false;
    $('login-error').textContent = msg || '';
    setConn('signed out', false);
  }

  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('token').value.trim();
    $('token').value = '';
    sessionStorage.setItem(TOKEN_KEY, token);
    start();
  });

  $('logout').addEventListener('click', () => {
    token = '';
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin('');
  });

  // --- stats -------------------------------------------------------------

  const pct = (x) => (x * 100).toFixed(1) + '%';

  async function loadStats() {
    const st = await api('GET', '/api/v1/stats?range=' + encodeURIComponent($('range').value));
    const body = $('stats-table').tBodies[0];
    body.replaceChildren();
    const rows = st.profiles.slice();
    if (rows.length > 1) rows.push(st.total);
    if (rows.length === 0) {
      const tr = el('tr');
      const td = el('td', 'No decisions in this range.');
      td.colSpan = 9;
      tr.append(td);
      body.append(tr);
    }
    for (const p of rows) {
      const tr = el('tr');
      tr.dataset.profile = p.profile;
      tr.append(el('td', p.profile === '*' ? 'all profiles' : p.profile), el('td', p.total), el('td', p.allowed),
        el('td', p.blocked), el('td', p.voicemail), el('td', p.challenged), el('td', p.passed),
        el('td', pct(p.interception_rate)), el('td', p.challenged ? pct(p.challenge_pass_through) : '–'));
      body.append(tr);
    }
  }

  let statsTimer = 0;
  function refreshStatsSoon() {
    clearTimeout(statsTimer);
    statsTimer = setTimeout(() => loadStats().catch(() => {}), 500);
  }
  $('range').addEventListener('change', () => loadStats().catch(() => {}));

  // --- decisions ---------------------------------------------------------

  function reasonsCell(reasons) {
    const td = el('td');
    for (const r of reasons || []) {
      const span = el('span', null, 'reason');
      span.append(el('code', r.code));
      if (r.description) span.append(' ', el('span', '— ' + r.description, 'desc'));
      td.append(span);
    }
    return td;
  }

  function isNumber(s) { return /^\+?[0-9]{2,15}$/.test(s || ''); }

  async function blockCaller(d, btn) {
    btn.disabled = true;
    try {
      await api('POST', '/api/v1/lists/block', { value: d.caller, tenant: d.tenant || '', note: 'blocked from the dashboard (decision ' + d.id + ')' });
      toast('Blocked ' + d.caller + '.');
      loadList().catch(() => {});
    } catch (e) {
      btn.disabled = false;
      toast('Could not block ' + d.caller + ': ' + e.message);
    }
  }

  async function notSpam(d, btn) {
    btn.disabled = true;
    try {
      await api('POST', '/api/v1/feedback', { caller: d.caller, tenant: d.tenant || '', spam: false, decision_id: d.id });
      toast('Reported ' + d.caller + ' as not spam.');
    } catch (e) {
      btn.disabled = false;
      toast('Could not report ' + d.caller + ': ' + e.message);
    }
  }

  // stirCell shows the STIR/SHAKEN attestation, with the verification
  // code when it did not succeed; empty when the call carried none.
  function stirCell(d) {
    let text = d.attestation || '';
    if (text && d.verify_result !== 'success') {
      text += ' (' + (d.verify_result || 'unverified') + ')';
    }
    return el('td', text, 'stir');
  }

  function decisionRow(d) {
    const tr = el('tr');
    tr.dataset.id = d.id;
    tr.dataset.caller = d.caller;
    const t = new Date(d.time);
    const result = el('td', d.held ? d.result + ' (held: ' + d.held + ')' : d.result, 'result-' + d.result);
    tr.append(el('td', t.toLocaleTimeString()), el('td', d.caller, 'caller'), el('td', d.caller_name || '', 'name'),
      el('td', d.dialed), el('td', d.profile), el('td', d.tier), el('td', d.action, 'action-' + d.action), result,
      el('td', d.challenge === 'none' ? '' : d.challenge + (d.wrong_entries ? ' (' + d.wrong_entries + ' wrong)' : '')),
      reasonsCell(d.reasons), stirCell(d));
    const actions = el('td');
    if (isNumber(d.caller)) {
      const block = el('button', 'Block this caller', 'small');
      block.type = 'button';
      block.dataset.action = 'block';
      block.addEventListener('click', () => blockCaller(d, block));
      const ok = el('button', 'Not spam', 'small');
      ok.type = 'button';
      ok.dataset.action = 'not-spam';
      ok.addEventListener('click', () => notSpam(d, ok));
      actions.append(block, ok);
    }
    tr.append(actions);
    return tr;
  }

  function addDecision(d, live) {
    if (seen.has(d.id)) return;
    seen.add(d.id);
    const body = $('tail-table').tBodies[0];
    const row = decisionRow(d);
    if (live) body.prepend(row); else body.append(row);
    while (body.rows.length > MAX_ROWS) {
      seen.delete(body.rows[body.rows.length - 1].dataset.id);
      body.deleteRow(body.rows.length - 1);
    }
    if (live) refreshStatsSoon();
  }

  async function loadRecent() {
    const ds = await api('GET', '/api/v1/decisions?limit=50');
    for (const d of ds) addDecision(d, false);
  }

  function handleEvent(block) {
    let event = 'message';
    let data = '';
    for (const line of block.split('\n')) {
      if (line === '' || line.startsWith(':')) continue;
      const i = line.indexOf(':');
      const field = i < 0 ? line : line.slice(0, i);
      const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data += value;
    }
    if (event === 'decision' && data) addDecision(JSON.parse(data), true);
  }

  // The live tail: server-sent events read with fetch, so the token goes
  // in the Authorization header.
  async function openStream() {
    if (streamCtrl) streamCtrl.abort();
    const ctrl = new AbortController();
    streamCtrl = ctrl;
    try {
      const res = await fetch('/api/v1/stream', { headers: authHeaders(), signal: ctrl.signal });
      if (res.status === 401) { showLogin('The token was refused.'); return; }
      if (!res.ok) throw new HTTPError(res.status, res.statusText);
      setConn('live', true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          handleEvent(buf.slice(0, i));
          buf = buf.slice(i + 2);
        }
      }
    } catch (e) {
      if (ctrl.signal.aborted) return;
    }
    if (streamCtrl !== ctrl) return;
    setConn('reconnecting…', false);
    setTimeout(() => { if (streamCtrl === ctrl) openStream(); }, 2000);
  }

  // --- search ------------------------------------------------------------

  function rawList(raw) {
    const dl = el('dl', null, 'raw');
    for (const k of Object.keys(raw || {}).sort()) dl.append(el('dt', k), el('dd', raw[k]));
    return dl;
  }

  function explainView(d) {
    const box = el('div');
    const head = el('p');
    head.append(el('strong', d.caller), ' — tier ' + d.tier + ', action ' + d.action + ', result ' + d.result +
      (d.score !== undefined ? ', score ' + d.score : '') + ' (profile ' + d.profile + ')');
    box.append(head);
    const reasons = el('ul');
    for (const r of d.reasons || []) {
      const li = el('li');
      li.append(el('code', r.code), ' — ' + r.description);
      reasons.append(li);
    }
    if (!(d.reasons || []).length) reasons.append(el('li', 'No reason raised: the caller is allowed.'));
    box.append(reasons);
    const t = el('table');
    const hr = el('tr');
    for (const h of ['Source', 'Tier', 'Risk', 'Score', 'Reasons', 'Data', 'Latency', 'Error']) hr.append(el('th', h));
    t.append(el('thead'));
    t.tHead.append(hr);
    const tb = el('tbody');
    for (const s of d.sources || []) {
      const tr = el('tr');
      tr.append(el('td', s.source), el('td', s.tier || ''), el('td', s.risk || ''), el('td', s.score ?? ''),
        reasonsCell(s.reasons), el('td'), el('td', s.latency_ms.toFixed(1) + ' ms'), el('td', s.error || ''));
      tr.cells[5].append(rawList(s.raw));
      tb.append(tr);
    }
    t.append(tb);
    box.append(t);
    return box;
  }

  $('search-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const n = $('search-number').value.trim();
    $('search-error').textContent = '';
    $('explain').replaceChildren();
    try {
      const d = await api('GET', '/api/v1/check?number=' + encodeURIComponent(n));
      $('explain').append(explainView(d));
      const past = await api('GET', '/api/v1/decisions?limit=20&caller=' + encodeURIComponent(n));
      const h = el('h3', past.length ? 'Recent decisions for this number' : 'No recent decisions for this number');
      $('explain').append(h);
      if (past.length) {
        const t = el('table');
        const tb = el('tbody');
        for (const p of past) tb.append(decisionRow(p));
        t.append(tb);
        $('explain').append(t);
      }
    } catch (e) {
      $('search-error').textContent = e.message;
    }
  });

  // --- lists -------------------------------------------------------------

  async function loadList() {
    const list = $('list-name').value;
    const body = $('list-table').tBodies[0];
    let entries;
    try {
      entries = await api('GET', '/api/v1/lists/' + list);
    } catch (e) {
      $('list-error').textContent = e.message;
      body.replaceChildren();
      return;
    }
    $('list-error').textContent = '';
    body.replaceChildren();
    for (const e of entries) {
      const tr = el('tr');
      tr.dataset.value = e.value;
      const rm = el('button', 'Remove', 'small');
      rm.type = 'button';
      rm.addEventListener('click', async () => {
        rm.disabled = true;
        try {
          const q = '?value=' + encodeURIComponent(e.value) + (e.tenant ? '&tenant=' + encodeURIComponent(e.tenant) : '');
          await api('DELETE', '/api/v1/lists/' + list + q);
          toast('Removed ' + e.value + ' from the ' + list + ' list.');
          loadList().catch(() => {});
        } catch (err) {
          rm.disabled = false;
          $('list-error').textContent = err.message;
        }
      });
      const td = el('td');
      td.append(rm);
      tr.append(el('td', e.value), el('td', e.note || ''), el('td', e.added_by || ''),
        el('td', e.added ? new Date(e.added).toLocaleString() : ''), td);
      body.append(tr);
    }
  }

  $('list-name').addEventListener('change', () => loadList().catch(() => {}));
  $('list-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const list = $('list-name').value;
    try {
      const e = await api('POST', '/api/v1/lists/' + list, { value: $('list-value').value.trim(), note: $('list-note').value.trim() });
      $('list-value').value = '';
      $('list-note').value = '';
      toast('Added ' + e.value + ' to the ' + list + ' list.');
      await loadList();
    } catch (e) {
      $('list-error').textContent = e.message;
    }
  });

  // --- start -------------------------------------------------------------

  async function start() {
    if (tokenRequired && !token) { showLogin(''); return; }
    try {
      await loadStats();
    } catch (e) {
      if (e.status !== 401) setConn('error: ' + e.message, false);
      return;
    }
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = !tokenRequired;
    await Promise.all([loadRecent().catch(() => {}), loadList().catch(() => {})]);
    openStream();
    if (!statsInterval) statsInterval = setInterval(() => loadStats().catch(() => {}), 15000);
    document.body.dataset.ready = 'true';
  }

  fetch('/api/v1/session').then((r) => r.json()).then((s) => {
    tokenRequired = !!s.token_required;
    start();
  }).catch((e) => setConn('error: ' + e.message, false));
})();
