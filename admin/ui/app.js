// The callscreen supervisors' dashboard: sign-in, the live tail, search,
// lists and the caller buttons. stats.js draws the charts and the tables of
// figures with the helpers this file exports as window.callscreenUI. Every
// value that comes from a call is inserted with textContent, never as HTML.
'use strict';
(() => {
  const $ = (id) => document.getElementById(id);
  const TOKEN_KEY = 'callscreen.token';
  const MAX_ROWS = 200;
  const DAY = 24 * 3600 * 1000;
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let tokenRequired = false;
  let streamCtrl = null;
  const seen = new Set();
  const startHooks = [];
  const decisionHooks = [];

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

  // download fetches path with the token and saves it as name: a plain
  // link could not send the Authorization header.
  async function download(path, name) {
    const res = await fetch(path, { headers: authHeaders() });
    if (res.status === 401) { showLogin('The token was refused.'); return; }
    if (!res.ok) throw new HTTPError(res.status, res.statusText);
    const url = URL.createObjectURL(await res.blob());
    const a = el('a');
    a.href = url;
    a.download = name;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
  }

  let toastTimer = 0;
  function toast(msg) {
    $('toast').textContent = msg;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { $('toast').textContent = ''; }, 6000);
  }

  // notice shows a message that stays until dismissed.
  function notice(msg) {
    const n = $('notice');
    n.replaceChildren(el('span', msg));
    const close = el('button', 'Dismiss', 'small');
    close.type = 'button';
    close.addEventListener('click', () => { n.hidden = true; });
    n.append(' ', close);
    n.hidden = false;
  }

  function setConn(text, live) {
    const c = $('conn');
    c.textContent = text;
    c.classList.toggle('live', !!live);
  }

  const pad = (n) => String(n).padStart(2, '0');
  // fmtTime writes a time with its date, in the browser's time zone:
  // 2026-03-02 10:04:05.
  function fmtTime(t, seconds = true) {
    const d = t instanceof Date ? t : new Date(t);
    if (isNaN(d)) return '';
    const s = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes());
    return seconds ? s + ':' + pad(d.getSeconds()) : s;
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

  // --- decisions ---------------------------------------------------------

  function reasonsCell(reasons) {
    const td = el('td', null, 'reasons');
    for (const r of reasons || []) {
      const span = el('span', null, 'reason');
      span.append(el('code', r.code));
      if (r.description) span.append(' ', el('span', '— ' + r.description, 'desc'));
      td.append(span);
    }
    return td;
  }

  function isNumber(s) { return /^\+?[0-9]{2,15}$/.test(s || ''); }
  const hasReason = (d, code) => (d.reasons || []).some((r) => r.code === code);
  // critical: emergency and configured critical numbers are never screened,
  // so the page offers no buttons that would try.
  const critical = (d) => hasReason(d, 'emergency.exempt');

  // listMatch is the list entry a decision matched, from the lists
  // source's data.
  function listMatch(d) {
    for (const s of d.sources || []) {
      if (s.source === 'lists' && s.raw && s.raw.entry) return s.raw;
    }
    return null;
  }

  // --- "Block this caller": asks for how long, then confirms. ------------

  let blocking = null;

  function blockUntil(days) {
    return days > 0 ? new Date(Date.now() + days * DAY) : null;
  }

  function showUntil() {
    const until = blockUntil(Number($('block-expiry').value));
    $('block-until').textContent = until ? 'Until ' + fmtTime(until, false) + ', then the caller is screened as before.' : 'Until someone removes it from the block list.';
  }
  $('block-expiry').addEventListener('change', showUntil);

  async function openBlock(d, btn) {
    // Ask the server too: a number configured as critical is never
    // blocked, whatever this decision said.
    try {
      const chk = await api('GET', '/api/v1/check?number=' + encodeURIComponent(d.caller));
      if (hasReason(chk, 'emergency.exempt')) {
        toast(d.caller + ' is an emergency or critical number: it is never screened, so it cannot be blocked.');
        btn.remove();
        return;
      }
    } catch (e) {
      if (e.status === 401) return;
    }
    blocking = { d, btn };
    $('block-number').textContent = d.caller;
    $('block-tenant').textContent = d.tenant ? ' of tenant ' + d.tenant : '';
    $('block-expiry').value = '30';
    $('block-note').value = 'blocked from the dashboard (decision ' + d.id + ')';
    $('block-error').textContent = '';
    showUntil();
    $('block-dialog').returnValue = '';
    $('block-dialog').showModal();
  }

  $('block-dialog').addEventListener('close', async () => {
    const dlg = $('block-dialog');
    const job = blocking;
    if (dlg.returnValue !== 'confirm' || !job) { blocking = null; return; }
    const { d, btn } = job;
    const until = blockUntil(Number($('block-expiry').value));
    const body = { value: d.caller, tenant: d.tenant || '', note: $('block-note').value.trim() };
    if (until) body.expires = until.toISOString();
    btn.disabled = true;
    try {
      await api('POST', '/api/v1/lists/block', body);
      toast('Blocked ' + d.caller + (until ? ' until ' + fmtTime(until, false) : '') + '.');
      blocking = null;
      loadList().catch(() => {});
    } catch (e) {
      btn.disabled = false;
      $('block-error').textContent = 'Could not block ' + d.caller + ': ' + e.message;
      blocking = job;
      dlg.returnValue = '';
      dlg.showModal();
    }
  });

  async function feedback(d, spam, btn) {
    btn.disabled = true;
    try {
      await api('POST', '/api/v1/feedback', { caller: d.caller, tenant: d.tenant || '', spam, decision_id: d.id });
    } catch (e) {
      btn.disabled = false;
      toast('Could not report ' + d.caller + ': ' + e.message);
      return;
    }
    if (spam) {
      toast('Reported ' + d.caller + ' as spam: the next calls from this number are blocked (caller.reported_spam).');
      return;
    }
    const m = listMatch(d);
    if (m && m.list === 'block') {
      // The block list wins over agents' reports: say so, and how to
      // let the caller through.
      const what = m.kind === 'name' ? 'its caller name matches the block-list pattern ' + m.entry : 'it is on the block list (' + m.entry + ')';
      notice('Reported ' + d.caller + ' as not spam, but the caller stays blocked: ' + what +
        (m.origin ? ', from ' + m.origin : '') + (m.note ? ' — "' + m.note + '"' : '') +
        '. The block list wins over reports; remove the entry from the block list to let the caller through.');
      return;
    }
    toast('Reported ' + d.caller + ' as not spam: provider and feed verdicts no longer block or challenge this number.');
  }

  function button(text, action, fn) {
    const b = el('button', text, 'small');
    b.type = 'button';
    b.dataset.action = action;
    b.addEventListener('click', () => fn(b));
    return b;
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
    const result = el('td', d.result, 'result result-' + d.result);
    tr.append(el('td', fmtTime(d.time), 'time'), el('td', d.caller, 'caller'), el('td', d.caller_name || '', 'name'),
      el('td', d.dialed), el('td', d.profile), el('td', d.tier), el('td', d.action, 'action-' + d.action), result,
      el('td', d.held || '', 'held' + (d.held && d.held !== 'allow' ? ' held-' + d.held : '')),
      el('td', d.challenge === 'none' ? '' : d.challenge + (d.wrong_entries ? ' (' + d.wrong_entries + ' wrong)' : '')),
      reasonsCell(d.reasons), stirCell(d));
    const actions = el('td', null, 'actions');
    if (critical(d)) {
      actions.append(el('span', 'critical: never screened', 'note'));
    } else if (isNumber(d.caller)) {
      actions.append(
        button('Block this caller', 'block', (b) => openBlock(d, b)),
        button('Report spam', 'spam', (b) => feedback(d, true, b)),
        button('Not spam', 'not-spam', (b) => feedback(d, false, b)));
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
    if (live) for (const fn of decisionHooks) fn(d);
  }

  async function loadRecent() {
    const ds = await api('GET', '/api/v1/decisions?limit=50');
    for (const d of ds) addDecision(d, false);
  }

  $('decisions-csv').addEventListener('click', () => {
    download('/api/v1/decisions.csv?limit=5000', 'callscreen-decisions-' + fmtTime(new Date(), false).replace(/[ :]/g, '-') + '.csv')
      .then(() => toast('Exported the latest decisions as CSV.'))
      .catch((e) => toast('Could not export: ' + e.message));
  });

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
      if (res.status === 429) {
        // Too many live views open: come back after Retry-After, spread
        // out, instead of every 2 s.
        const after = parseInt(res.headers.get('Retry-After') || '10', 10) || 10;
        setConn('too many live views open; retrying', false);
        setTimeout(() => { if (streamCtrl === ctrl) openStream(); }, after * 1000 * (0.5 + Math.random()));
        return;
      }
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
        el('td', e.added ? fmtTime(e.added, false) : ''), el('td', e.expires ? fmtTime(e.expires, false) : 'never', 'expires'), td);
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
      await api('GET', '/api/v1/reasons');
    } catch (e) {
      if (e.status !== 401) setConn('error: ' + e.message, false);
      return;
    }
    $('login').hidden = true;
    $('app').hidden = false;
    $('logout').hidden = !tokenRequired;
    await Promise.all([loadRecent().catch(() => {}), loadList().catch(() => {}),
      ...startHooks.map((fn) => Promise.resolve(fn()).catch(() => {}))]);
    openStream();
    document.body.dataset.ready = 'true';
  }

  // What stats.js (and later panels) use.
  window.callscreenUI = {
    api, el, toast, fmtTime, download,
    // onStart: fn runs once the page is signed in (before it is ready).
    onStart: (fn) => startHooks.push(fn),
    // onDecision: fn runs for every live decision.
    onDecision: (fn) => decisionHooks.push(fn),
  };

  fetch('/api/v1/session').then((r) => r.json()).then((s) => {
    tokenRequired = !!s.token_required;
    start();
  }).catch((e) => setConn('error: ' + e.message, false));
})();
