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
      }).forEach(function (r) { body.appendChild(r); });
      status.textContent = 'Sorted by ' + b.textContent + ', ' + dir + '. ' + status.textContent.replace(/^Sorted by [^.]*\. /, '');
    });
  });
  apply();
}());
