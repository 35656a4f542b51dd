(function () {
  'use strict';
  var table = document.getElementById('users');
  var form = document.getElementById('filters');
  if (!table || !form) { return; }
  form.hidden = false;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.dataset.index !== undefined; });
  var text = document.getElementById('f-text');
  var state = document.getElementById('f-state');
  var severity = document.getElementById('f-severity');
  var account = document.getElementById('f-account');
  var status = document.getElementById('f-status');
  // The search text of a row: its name, its account, and what its data-search adds.
  rows.forEach(function (r) {
    r.search = (r.cells[1].textContent + ' ' + r.cells[0].textContent + ' ' + r.dataset.search).toLowerCase();
  });
  function has(list, v) { return (' ' + list + ' ').indexOf(' ' + v + ' ') >= 0; }
  function apply() {
    var q = text.value.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (r) {
      var d = r.dataset;
      var ok = (!q || r.search.indexOf(q) >= 0) &&
        (!state.value || has(d.states, state.value)) &&
        (!severity.value || has(d.severities, severity.value)) &&
        (!account.value || d.account === account.value);
      r.hidden = !ok;
      if (r.more) { r.more.hidden = !ok; }
      var section = d.target && document.getElementById(d.target);
      if (section) { section.hidden = !ok; }
      if (ok) { shown++; }
    });
    status.textContent = shown + ' of ' + rows.length + ' users shown';
  }
  form.addEventListener('input', apply);
  form.addEventListener('change', apply);
  form.addEventListener('submit', function (e) { e.preventDefault(); });
  form.addEventListener('reset', function () { window.setTimeout(apply, 0); });
  var heads = table.tHead.rows[0].cells;
  // A cell without data-sort sorts by its text; a missing deadline sorts last.
  function key(c) {
    var s = c.dataset.sort;
    return s !== undefined ? s : (c.textContent === '\u2014' ? '~' : c.textContent);
  }
  Array.prototype.forEach.call(table.querySelectorAll('thead button[data-col]'), function (b) {
    b.addEventListener('click', function () {
      var th = b.parentNode;
      var col = Number(b.dataset.col);
      var numeric = th.dataset.type === 'number';
      var dir = th.getAttribute('aria-sort') === 'ascending' ? 'descending' : 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', dir);
      rows.slice().sort(function (x, y) {
        var a = key(x.cells[col]), c = key(y.cells[col]), r;
        if (numeric) { r = parseFloat(a) - parseFloat(c); } else { r = a < c ? -1 : (a > c ? 1 : 0); }
        if (r === 0) { return Number(x.dataset.index) - Number(y.dataset.index); }
        return dir === 'ascending' ? r : -r;
      }).forEach(function (r) { body.appendChild(r); if (r.more) { body.appendChild(r.more); } });
      status.textContent = 'Sorted by ' + b.textContent + ', ' + dir + '. ' + status.textContent.replace(/^Sorted by [^.]*\. /, '');
    });
  });
  apply();

  // A large page holds its findings by user as data: a user's are shown, under the user's row,
  // when asked for, built with DOM calls and textContent only.
  var block = document.getElementById('findings-data');
  if (!block) { return; }
  var data = null;
  function el(tag, cls, txt) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (txt !== undefined) { e.textContent = txt; }
    return e;
  }
  function add(parent, child) { parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child); return child; }
  // A string of the data is itself or its index in the data's repeated strings.
  function str(v) { return typeof v === 'number' ? data.s[v] : v; }
  function finding(f) {
    var r = str(f.r), s = str(f.s), t = str(f.t), k = str(f.k), n = str(f.n);
    var rule = data.rules[r] || {};
    var div = el('div', 'finding');
    var h = add(div, el('h4'));
    add(h, el('span', 'badge sev-' + s, s)); add(h, ' ');
    add(h, el('span', 'st-' + t, t)); add(h, ' ');
    if (rule.doc) { add(h, el('a', '', r)).href = rule.doc; } else { add(h, r); }
    if (k) { add(h, ' '); add(h, el('code', '', k)); }
    add(div, el('p', '', str(f.d) || ''));
    if (n) { add(div, el('p', 'muted', n)); }
    if (f.w) {
      var p = add(div, el('p', '', 'Deadline: '));
      add(p, el('time', '', str(f.w[1]))).dateTime = f.w[0];
    }
    var x = f.x;
    if (x) {
      add(div, el('p', x.expired ? 'expired' : '', (x.expired ? 'Exemption expired' : 'Exempt') + ': ' + str(x.reason) +
        ' (source ' + str(x.source) + (x.until !== undefined ? ', until ' + str(x.until) : '') + ')'));
    }
    var ev = [];
    if (f.i !== undefined) { ev.push('finding', str(f.i)); }
    var controls = f.c !== undefined ? f.c : rule.controls;
    if (controls) { ev.push('controls', controls); }
    (f.e || []).forEach(function (v) { ev.push(str(v)); });
    if (ev.length) {
      var dl = add(div, el('dl', 'ev'));
      for (var i = 0; i + 1 < ev.length; i += 2) { add(dl, el('dt', '', ev[i])); add(dl, el('dd', '', ev[i + 1])); }
    }
    return div;
  }
  function details(r) {
    if (!data) { data = JSON.parse(block.textContent); }
    var u = data.users[Number(r.dataset.index)];
    var tr = el('tr', 'more');
    tr.id = r.id + '-f';
    var td = add(tr, el('td'));
    td.colSpan = r.cells.length;
    var art = add(td, el('article', 'user'));
    art.setAttribute('aria-labelledby', r.id + '-h');
    var h = add(art, el('h3', '', r.cells[1].textContent + ' '));
    h.id = r.id + '-h';
    add(h, el('span', 'muted', 'in ' + r.cells[0].textContent));
    if (u.a) { add(add(art, el('p', 'muted')), el('code', '', u.a)); }
    u.f.forEach(function (f) { add(art, finding(f)); });
    return tr;
  }
  function show(r, open) {
    var b = r.button;
    if (open === !!r.more) { return; }
    if (open) {
      r.more = details(r);
      r.more.hidden = r.hidden;
      body.insertBefore(r.more, r.nextSibling);
      b.setAttribute('aria-controls', r.more.id);
    } else {
      body.removeChild(r.more);
      r.more = null;
      b.removeAttribute('aria-controls');
    }
    b.setAttribute('aria-expanded', String(open));
  }
  var byID = {};
  rows.forEach(function (r) {
    var b = el('button', 'more', 'Findings');
    b.type = 'button';
    b.setAttribute('aria-expanded', 'false');
    b.addEventListener('click', function () { show(r, !r.more); });
    r.button = b;
    r.cells[2].appendChild(b);
    byID[r.id] = r;
  });
  // A link to a user, from the deadlines or the exemptions, opens the user's findings.
  function follow(hash) {
    var r = byID[hash.slice(1)];
    if (r) { show(r, true); }
  }
  document.addEventListener('click', function (e) {
    var a = e.target.closest && e.target.closest('a[href^="#u"]');
    if (a) { follow(a.getAttribute('href')); }
  });
  if (location.hash) { follow(location.hash); }
}());
