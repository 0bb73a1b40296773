/**
 * The dashboard page: one HTML shell and one script (plain browser JavaScript, no build step), served by
 * `metatape serve`. Charts are Vega-Lite specs rendered by the vega and vega-lite browser builds that the
 * server hands out from node_modules.
 */

export const INDEX_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>metatape</title>
<style>
  body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
  header { background: #24292f; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; }
  header a { color: #fff; text-decoration: none; font-weight: 600; }
  header .root { color: #9ca3af; font-size: 12px; font-family: ui-monospace, monospace; }
  main { padding: 16px 20px; }
  h1 { font-size: 20px; margin: 4px 0 12px; } h2 { font-size: 16px; margin: 18px 0 8px; }
  table { border-collapse: collapse; background: #fff; margin-bottom: 12px; }
  th, td { border: 1px solid #d0d7de; padding: 4px 8px; text-align: left; font-variant-numeric: tabular-nums; }
  th { background: #eef1f4; font-weight: 600; }
  td.num { text-align: right; }
  .state { display: inline-block; border-radius: 10px; padding: 0 8px; font-size: 12px; }
  .state.running { background: #ddf4ff; color: #0969da; } .state.completed { background: #dafbe1; color: #1a7f37; }
  .state.failed { background: #ffebe9; color: #cf222e; } .state.interrupted, .state.stale { background: #fff8c5; color: #9a6700; }
  .cards { display: flex; flex-wrap: wrap; gap: 12px; }
  .card { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 8px; }
  .card h3 { font-size: 13px; margin: 0 0 4px; color: #57606a; font-weight: 600; }
  pre { background: #fff; border: 1px solid #d0d7de; padding: 8px; overflow: auto; max-height: 360px; font-size: 12px; }
  .muted { color: #57606a; } .live { color: #0969da; font-weight: 600; }
  img.plot { background: #fff; border: 1px solid #d0d7de; max-width: 560px; }
  button { font: inherit; padding: 3px 10px; }
  .error { color: #cf222e; }
</style>
</head>
<body>
<header><a href="#/">metatape</a><span class="root" id="root"></span></header>
<main id="main"><p class="muted">loading…</p></main>
<script src="/vendor/vega.js"></script>
<script src="/vendor/vega-lite.js"></script>
<script src="/app.js"></script>
</body>
</html>
`;

export const APP_JS = String.raw`'use strict';
(function () {
  var main = document.getElementById('main');
  var state = { views: {}, source: null, timer: null, generation: 0 };
  window.metatape = { charts: {}, ready: false };

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (k === 'text') el.textContent = attrs[k];
      else if (k === 'html') el.innerHTML = attrs[k];
      else if (k.slice(0, 2) === 'on') el.addEventListener(k.slice(2), attrs[k]);
      else el.setAttribute(k, attrs[k]);
    }
    (children || []).forEach(function (c) { if (c != null) el.appendChild(typeof c === 'string' ? document.createTextNode(c) : c); });
    return el;
  }
  function num(v) { return typeof v === 'string' && /^(NaN|-?Infinity)$/.test(v) ? Number(v) : v; }
  // One number format everywhere: integers as they are, others with 4 significant digits.
  function fmt(v) {
    v = num(v);
    if (v === undefined || v === null || typeof v !== 'number' || !isFinite(v)) return '-';
    if (Number.isInteger(v)) return String(v);
    var a = Math.abs(v);
    return a !== 0 && (a >= 1e5 || a < 1e-3) ? v.toExponential(2) : String(Number(v.toPrecision(4)));
  }
  function api(path) {
    return fetch(path).then(function (r) {
      if (!r.ok) return r.text().then(function (t) { throw new Error(t || r.statusText); });
      return r.json();
    });
  }
  function stateBadge(s, stale) {
    var name = stale ? 'stale' : s;
    return h('span', { class: 'state ' + name, 'data-state': name, text: stale ? s + '?' : s });
  }
  function link(href, text) { return h('a', { href: href, text: text }); }
  function table(header, rows, attrs) {
    return h('table', attrs || {}, [
      h('thead', {}, [h('tr', {}, header.map(function (x) { return h('th', { text: x }); }))]),
      h('tbody', {}, rows.map(function (r) {
        return h('tr', {}, r.map(function (c) {
          if (c instanceof Node) return h('td', {}, [c]);
          var isNum = typeof c === 'number';
          return h('td', isNum ? { class: 'num', text: fmt(c) } : { text: c == null ? '-' : String(c) });
        }));
      })),
    ]);
  }
  function cleanup() {
    if (state.source) { state.source.close(); state.source = null; }
    if (state.timer) { clearInterval(state.timer); state.timer = null; }
    for (var k in state.views) state.views[k].finalize();
    state.views = {};
    window.metatape.charts = {};
    window.metatape.ready = false;
    state.generation++;
  }

  // ---- charts -------------------------------------------------------------------------------------
  function quantile(sorted, q) {
    if (!sorted.length) return NaN;
    var i = (sorted.length - 1) * q, lo = Math.floor(i), hi = Math.ceil(i);
    return sorted[lo] + (sorted[hi] - sorted[lo]) * (i - lo);
  }
  // A y range that keeps the bulk of the values visible: outliers far beyond the interquartile spread
  // (a diverged seed) are clipped and drawn as triangles on the edge instead of squashing everything else.
  function robustDomain(values, log) {
    var v = values.filter(function (x) { return typeof x === 'number' && isFinite(x) && (!log || x > 0); });
    if (!v.length) return null;
    var t = v.map(function (x) { return log ? Math.log10(x) : x; }).sort(function (a, b) { return a - b; });
    var q1 = quantile(t, 0.1), q3 = quantile(t, 0.9), span = Math.max(q3 - q1, 1e-12);
    var lo = Math.max(t[0], q1 - 1.5 * span), hi = Math.min(t[t.length - 1], q3 + 1.5 * span);
    if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
    var back = function (x) { return log ? Math.pow(10, x) : x; };
    return { lo: back(lo), hi: back(hi), clipped: t[0] < lo || t[t.length - 1] > hi };
  }
  function render(name, el, spec, points) {
    var gen = state.generation;
    var prev = state.views[name];
    var view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'svg', container: el, hover: true });
    return view.runAsync().then(function () {
      if (gen !== state.generation) { view.finalize(); return; }
      if (prev) prev.finalize();
      state.views[name] = view;
      el.setAttribute('data-chart', name);
      el.setAttribute('data-points', String(points));
      window.metatape.charts[name] = points;
    });
  }
  function chartCard(title, name) {
    var body = h('div', { id: 'chart-' + name });
    return { card: h('div', { class: 'card' }, [h('h3', { text: title }), body]), el: body };
  }
  // Axis labels in the same format as the tables (4 significant digits, exponent beyond 1e5 or below 1e-3);
  // on a log axis only the 1, 2, 5 ticks of each decade are labelled.
  var NUM = "abs(datum.value) >= 1e5 || (abs(datum.value) < 1e-3 && datum.value != 0) ? format(datum.value, '.2e') : format(datum.value, '.4~r')";
  var AXIS = { labelExpr: NUM, labelFlush: true };
  var LOG_AXIS = { labelExpr: "indexof([1, 2, 5], round(datum.value / pow(10, floor(log(datum.value) / LN10 + 1e-9)))) < 0 ? '' : " + NUM };
  var INT_AXIS = { format: 'd', tickMinStep: 1 };

  /** Lines with point markers, per-series color; rows {x, y, series, [group], [seed]}. */
  function lineSpec(o) {
    var ok = function (r) { return typeof r.y === 'number' && isFinite(r.y) && (!o.logY || r.y > 0); };
    var rows = o.rows.filter(ok);
    var dots = (o.dots || []).filter(ok);
    var faint = (o.perSeed || []).filter(ok);
    var dom = robustDomain(rows.concat(dots, faint).map(function (r) { return r.y; }), o.logY);
    var yScale = o.logY ? { type: 'log' } : { zero: false };
    if (dom) { yScale.domain = [dom.lo, dom.hi]; }
    var clipped = dom ? rows.concat(dots).filter(function (r) { return r.y > dom.hi || r.y < dom.lo; }).map(function (r) {
      return Object.assign({}, r, { yClip: r.y > dom.hi ? dom.hi : dom.lo, edge: r.y > dom.hi ? 'above' : 'below' });
    }) : [];
    var x = { field: 'x', type: 'quantitative', title: o.xLabel, axis: o.intX ? INT_AXIS : AXIS, scale: { zero: false } };
    var color = { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 3, symbolType: 'stroke', symbolStrokeWidth: 3 } };
    var tooltip = [{ field: 'series', title: 'series' }, { field: 'x', title: o.xLabel }, { field: 'y', title: o.yLabel, format: '.4~g' }];
    var layers = [];
    if (o.perSeed) {
      layers.push({
        data: { values: faint },
        mark: { type: 'line', opacity: 0.25, strokeWidth: 1, clip: true },
        encoding: { x: x, y: { field: 'y', type: 'quantitative', scale: yScale }, color: color, detail: { field: 'seed' } },
      });
    }
    layers.push({
      data: { values: rows },
      mark: { type: 'line', strokeWidth: o.perSeed ? 2.5 : 1.8, clip: true, point: rows.length <= 400 ? { size: 24, filled: true } : false },
      encoding: {
        x: x,
        y: { field: 'y', type: 'quantitative', title: o.yLabel, scale: yScale, axis: o.logY ? LOG_AXIS : AXIS },
        color: color,
        tooltip: tooltip,
      },
    });
    if (dots.length) {
      // Per-seed values as hollow dots under the mean line.
      layers.unshift({
        data: { values: dots },
        mark: { type: 'point', opacity: 0.6, size: 30, clip: true },
        encoding: { x: x, y: { field: 'y', type: 'quantitative', scale: yScale }, color: color,
          tooltip: [{ field: 'series' }, { field: 'seed' }, { field: 'y', title: o.yLabel, format: '.4~g' }] },
      });
    }
    if (clipped.length) {
      layers.push({
        data: { values: clipped },
        mark: { type: 'point', shape: 'triangle-up', filled: true, size: 60, color: '#cf222e', clip: false },
        encoding: {
          x: x,
          y: { field: 'yClip', type: 'quantitative', scale: yScale },
          shape: { field: 'edge', type: 'nominal', scale: { domain: ['above', 'below'], range: ['triangle-up', 'triangle-down'] }, legend: null },
          tooltip: [{ field: 'series' }, { field: 'x', title: o.xLabel }, { field: 'y', title: 'value (off the chart)', format: '.4~g' }],
        },
      });
    }
    var spec = {
      $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
      width: o.width || 440, height: o.height || 240, background: 'white',
      layer: layers,
    };
    if (clipped.length) spec.title = { text: clipped.length + ' value(s) off the chart (▲/▼)', fontSize: 11, color: '#cf222e', anchor: 'end' };
    return { spec: spec, points: rows.length + faint.length + dots.length };
  }

  function numericColumns(cols) {
    return Object.keys(cols).filter(function (k) {
      return k !== 'iteration' && cols[k].some(function (v) { return typeof num(v) === 'number'; });
    });
  }
  /** Long rows {x, y, series} of a metrics table: train metaLoss and each evaluation split's metric. */
  function curveRows(cols, which) {
    var rows = [];
    if (!cols || !cols.iteration) return rows;
    var split = cols.split || [];
    var names = numericColumns(cols);
    for (var i = 0; i < cols.iteration.length; i++) {
      var s = split[i] || '';
      names.forEach(function (c) {
        var v = num(cols[c][i]);
        if (typeof v !== 'number') return;
        var perf = c === 'itPerSec' || c === 'rssMb';
        if (which === 'cost' ? !perf : perf || c === 'ci95') return;
        rows.push({ x: cols.iteration[i], y: v, series: s && s !== 'train' ? s + ' ' + c : c });
      });
    }
    return rows;
  }
  function allPositive(rows) { return rows.length > 0 && rows.every(function (r) { return r.y > 0; }); }
  function lossLike(rows) {
    // Log scale for losses that span more than a decade.
    if (!allPositive(rows)) return false;
    var ys = rows.map(function (r) { return r.y; });
    return Math.max.apply(null, ys) / Math.min.apply(null, ys) > 10;
  }

  // ---- pages --------------------------------------------------------------------------------------
  function listPage() {
    var selected = {};
    var box = h('div');
    main.replaceChildren(h('h1', { text: 'Runs and comparisons' }), box);
    function draw(data) {
      document.getElementById('root').textContent = data.root;
      var parts = [];
      if (data.comparisons.length) {
        parts.push(h('h2', { text: 'Comparisons' }));
        parts.push(table(['comparison', 'variants', 'completed', 'running', 'best (order, inner steps)', 'report'],
          data.comparisons.map(function (c) {
            return [link('#/comparison/' + encodeURIComponent(c.path), c.path || '.'), c.variants, c.completed, c.running,
              c.headline ? c.headline.metric + ' = ' + fmt(c.headline.value) + ' (' + methodName(c.headline) + ', ' + c.headline.innerSteps + ' inner)' : '-',
              c.reported ? link('/files/' + c.path + '/report.md', 'report.md') : '-'];
          }), { id: 'comparisons' }));
      }
      parts.push(h('h2', { text: 'Runs (' + data.runs.length + ')' }));
      var overlay = h('button', { id: 'overlay', text: 'Overlay selected', onclick: function () {
        var ps = Object.keys(selected).filter(function (k) { return selected[k]; });
        if (ps.length) location.hash = '#/overlay/' + ps.map(encodeURIComponent).join('|');
      } });
      parts.push(h('p', {}, [overlay, h('span', { class: 'muted', text: '  tick runs to compare their learning curves in one chart' })]));
      if (!data.runs.length) parts.push(h('p', { class: 'muted', text: 'No run folders (with status.json or config.json) under this folder.' }));
      else parts.push(table(['', 'run', 'state', 'iteration', 'headline', 'algorithm', 'order', 'inner steps', 'seed', 'data', 'started'],
        data.runs.map(function (r) {
          var cb = h('input', { type: 'checkbox', 'data-path': r.path, onchange: function (e) { selected[r.path] = e.target.checked; } });
          if (selected[r.path]) cb.checked = true;
          var c = r.config || {};
          return [cb, link('#/run/' + encodeURIComponent(r.path), r.path), stateBadge(r.state, r.stale),
            r.iteration !== undefined ? r.iteration + '/' + (r.iterations === undefined ? '?' : r.iterations) : '-',
            r.headline ? r.headline.metric + ' = ' + fmt(r.headline.value) : '-',
            c.algorithm, c.order, c.innerSteps, c.seed, c.data, (r.startedAt || '').replace('T', ' ').slice(0, 19)];
        }), { id: 'runs' }));
      box.replaceChildren.apply(box, parts);
      window.metatape.ready = true;
    }
    function load() { return api('/api/list').then(draw).catch(function (e) { box.replaceChildren(h('p', { class: 'error', text: String(e) })); }); }
    load();
    state.timer = setInterval(load, 3000);
  }

  function runCharts(cols, cards) {
    var curve = curveRows(cols, 'curve');
    var cost = curveRows(cols, 'cost');
    var jobs = [];
    var c1 = lineSpec({ rows: curve, xLabel: 'meta-iteration', yLabel: 'loss / metric', logY: lossLike(curve), intX: true });
    jobs.push(render('curve', cards.curve, c1.spec, c1.points));
    // Speed and memory have different units: one chart each.
    [['speed', 'itPerSec', 'meta-iterations / s'], ['memory', 'rssMb', 'resident set size (MB)']].forEach(function (k) {
      var rows = cost.filter(function (r) { return r.series === k[1]; });
      if (!rows.length) return;
      var c = lineSpec({ rows: rows, xLabel: 'meta-iteration', yLabel: k[2], intX: true, width: 300, height: 150 });
      jobs.push(render(k[0], cards[k[0]], c.spec, c.points));
    });
    return Promise.all(jobs);
  }

  function runPage(path) {
    main.replaceChildren(h('p', { class: 'muted', text: 'loading ' + path + '…' }));
    api('/api/run?path=' + encodeURIComponent(path)).then(function (r) {
      var progress = h('span', { id: 'progress', text: r.iteration !== undefined ? 'iteration ' + r.iteration + '/' + (r.iterations || '?') : '' });
      var badge = h('span', { id: 'state' }, [stateBadge(r.state, r.stale)]);
      var live = h('span', { id: 'live', class: 'live' });
      var curve = chartCard('learning curve (train meta-loss, evaluations during training)', 'curve');
      var speed = chartCard('speed', 'speed');
      var memory = chartCard('memory', 'memory');
      var parts = [h('h1', {}, [r.path + '  ', badge]), h('p', {}, [progress, '  ', live]),
        h('div', { class: 'cards' }, [curve.card, speed.card, memory.card])];
      if (r.metricsError) parts.push(h('p', { class: 'muted', text: r.metricsError }));
      var table0 = r.summary && r.summary.table;
      if (table0 && table0.length) {
        parts.push(h('h2', { text: 'Evaluation: test ' + (r.summary.metric || '') + ' after adaptation (mean ± 95% CI over tasks)' }));
        var steps = table0[0].scores.map(function (s) { return s.steps; });
        parts.push(table(['K'].concat(steps.map(function (s) { return s + ' steps'; })), table0.map(function (t) {
          return ['K = ' + t.shots].concat(t.scores.map(function (s) { return fmt(s.mean) + ' ± ' + fmt(s.ci95); }));
        }), { id: 'evaluation' }));
      }
      if (r.summary && r.summary.results) {
        var res = r.summary.results;
        parts.push(h('h2', { text: 'Results' }));
        parts.push(table(['key', 'value'], Object.keys(res).map(function (k) { return [k, num(res[k])]; }), { id: 'results' }));
      }
      if (r.plots.length) {
        parts.push(h('h2', { text: 'Plots written by the run' }));
        parts.push(h('div', { class: 'cards' }, r.plots.map(function (p) {
          return h('img', { class: 'plot', src: '/files/' + r.path + '/' + p, alt: p, title: p });
        })));
      }
      parts.push(h('h2', { text: 'Config' }));
      parts.push(h('pre', { id: 'config', text: r.configText || '(no config.yaml)' }));
      parts.push(h('h2', { text: 'Log (last lines)' }));
      var log = h('pre', { id: 'log', text: r.logTail || '(no log)' });
      parts.push(log);
      main.replaceChildren.apply(main, parts);
      var cards = { curve: curve.el, speed: speed.el, memory: memory.el };
      runCharts(r.metrics, cards).then(function () { window.metatape.ready = true; });
      if (r.state === 'running' && !r.stale) {
        live.textContent = '● live';
        var es = new EventSource('/api/events?path=' + encodeURIComponent(path));
        state.source = es;
        var pending = null, busy = false;
        function drain() {
          if (busy || !pending) return;
          var u = pending; pending = null; busy = true;
          var st = u.status || {};
          if (st.iteration !== undefined) progress.textContent = 'iteration ' + st.iteration + '/' + (st.iterations || '?');
          if (st.state) badge.replaceChildren(stateBadge(st.state, false));
          runCharts(u.metrics, cards).then(function () {
            busy = false;
            window.metatape.updates = (window.metatape.updates || 0) + 1;
            if (st.state && st.state !== 'running') { live.textContent = 'finished: ' + st.state; es.close(); }
            drain();
          });
        }
        es.addEventListener('update', function (e) { pending = JSON.parse(e.data); drain(); });
      }
    }).catch(function (e) { main.replaceChildren(h('p', { class: 'error', text: String(e) })); });
  }

  // A comparison's method: o1/o2 (--orders) shown as "order 1", else an algorithm variant such as fomaml.
  function methodKey(x) { return x.method || ('o' + x.order); }
  function methodName(x) { return methodKey(x).replace(/^o([12])$/, 'order $1'); }
  function meanCi(m) { return m && isFinite(num(m.mean)) ? fmt(m.mean) + (isFinite(num(m.ci95)) ? ' ± ' + fmt(m.ci95) : '') : '-'; }

  function comparisonPage(path) {
    var t0 = performance.now();
    main.replaceChildren(h('p', { class: 'muted', text: 'loading ' + path + '…' }));
    api('/api/comparison?path=' + encodeURIComponent(path)).then(function (c) {
      var agg = c.aggregate || {};
      var choice = agg.choice || {};
      var metric = choice.metric || (c.variants[0] && c.variants[0].metric) || 'metric';
      var fromGroups = (agg.groups || []).map(methodKey);
      var methods = Array.from(new Set(fromGroups.concat(c.variants.map(methodKey).sort())));
      var byOrders = methods.every(function (m) { return /^o[12]$/.test(m); });
      var parts = [h('h1', { text: 'Comparison ' + (c.path || '.') }),
        h('p', { class: 'muted', text: c.variants.length + ' variants · ' + (byOrders ? 'orders ' + methods.map(function (m) { return m.slice(1); }).join(', ') : 'methods ' + methods.join(', ')) + ' · headline: test ' + metric + ' at K = ' + choice.shots + ' after ' + choice.steps + ' inner steps' })];
      var row = h('div', { class: 'cards', id: 'curves' });
      parts.push(h('h2', { text: 'Meta-training loss: each seed (faint) and the mean over seeds (bold)' }), row);
      var charts = [];
      methods.forEach(function (method) {
        var vs = c.variants.filter(function (v) { return methodKey(v) === method; });
        var perSeed = [], sums = {};
        vs.forEach(function (v) {
          var series = v.innerSteps + ' inner';
          v.curve.x.forEach(function (x, i) {
            var y = num(v.curve.y[i]);
            perSeed.push({ x: x, y: y, series: series, seed: v.seed });
            var key = series + '|' + x;
            var e = sums[key] || (sums[key] = { x: x, series: series, sum: 0, n: 0 });
            if (isFinite(y)) { e.sum += y; e.n++; }
          });
        });
        var mean = Object.keys(sums).map(function (k) { var e = sums[k]; return { x: e.x, series: e.series, y: e.n ? e.sum / e.n : NaN }; });
        var card = chartCard(methodName({ method: method }), 'curve-' + method);
        row.appendChild(card.card);
        var s = lineSpec({ rows: mean, perSeed: perSeed, xLabel: 'meta-iteration', yLabel: 'meta-loss', logY: metric === 'mse', intX: true, width: 420 });
        charts.push(['curve-' + method, card.el, s]);
      });
      var groups = agg.groups || [];
      function byOrder(pick, unit) {
        var rows = [], perSeed = [];
        groups.forEach(function (g) { var v = pick(g); if (v && isFinite(num(v.mean))) rows.push({ x: g.innerSteps, y: num(v.mean), series: methodName(g) + unit }); });
        return { rows: rows, perSeed: perSeed };
      }
      function seedPoints(get, unit) {
        return c.variants.map(function (v) { return { x: v.innerSteps, y: get(v), series: methodName(v) + unit, seed: v.seed }; })
          .filter(function (r) { return typeof r.y === 'number' && isFinite(r.y); });
      }
      var row2 = h('div', { class: 'cards', id: 'by-inner' });
      parts.push(h('h2', { text: 'Against inner steps in training: each seed (dots), the mean over seeds (line)' }), row2);
      var key = choice.key;
      var specs = [
        ['final', 'test ' + metric + ' (K = ' + choice.shots + ', ' + choice.steps + ' steps)', function (g) { return g.final; }, function (v) { return v.results && num(v.results[key]); }, ''],
        ['speed', 'meta-iterations per CPU second', function (g) { return g.cpuItPerSec; }, function (v) { return v.resources && num(v.resources.cpuItPerSec); }, ''],
        ['memory', 'peak RSS (MB)', function (g) { return g.peakRssMb; }, function (v) { return v.results && num(v.results.peakRssMb); }, ''],
      ];
      specs.forEach(function (sp) {
        var data = byOrder(sp[2], sp[4]);
        var dots = seedPoints(sp[3], sp[4]);
        var o = lineSpec({ rows: data.rows, dots: dots, xLabel: 'inner steps in training', yLabel: sp[1], intX: true, width: 300, height: 200 });
        var card = chartCard(sp[1], sp[0]);
        row2.appendChild(card.card);
        charts.push([sp[0], card.el, o]);
      });
      if (groups.length) {
        parts.push(h('h2', { text: (byOrders ? 'Order 1 vs order 2' : methods.join(' vs ')) + ' (mean ± 95% CI over seeds)' }));
        parts.push(table(['method', 'inner steps', 'seeds', 'test ' + metric, 'it/CPU-s', 'it/s wall', 'peak RSS MB', 'training RSS MB'],
          groups.map(function (g) { return [methodName(g), g.innerSteps, g.completed + '/' + g.total, meanCi(g.final), meanCi(g.cpuItPerSec), meanCi(g.itPerSec), meanCi(g.peakRssMb), meanCi(g.trainRssMb)]; }), { id: 'groups' }));
      }
      if (agg.ratios && agg.ratios.length) {
        parts.push(table(['inner steps', 'ratio', metric + ' ratio', metric + ' difference (paired)', 'it/CPU-s ratio', 'peak RSS ratio'],
          agg.ratios.map(function (r) { return [r.innerSteps, r.method ? r.method + '/' + r.baseline : 'o2/o1', num(r.metric), meanCi(r.metricDiff), num(r.cpuItPerSec), num(r.peakRssMb)]; }), { id: 'ratios' }));
      }
      parts.push(h('h2', { text: 'Per seed' }));
      parts.push(table(['variant', 'state', 'order', 'inner steps', 'seed', 'test ' + metric, 'it/CPU-s', 'peak RSS MB'],
        c.variants.map(function (v) {
          return [link('#/run/' + encodeURIComponent(v.path), v.id), stateBadge(v.state, false), v.order, v.innerSteps, v.seed,
            v.results ? num(v.results[key]) : null, v.resources ? num(v.resources.cpuItPerSec) : null, v.results ? num(v.results.peakRssMb) : null];
        }), { id: 'variants' }));
      if (c.plots.length) {
        parts.push(h('h2', { text: 'Report plots' }));
        parts.push(h('div', { class: 'cards' }, c.plots.map(function (p) { return h('img', { class: 'plot', src: '/files/' + c.path + '/' + p, alt: p, title: p }); })));
      }
      main.replaceChildren.apply(main, parts);
      return Promise.all(charts.map(function (x) { return render(x[0], x[1], x[2].spec, x[2].points); })).then(function () {
        window.metatape.loadMs = performance.now() - t0;
        window.metatape.ready = true;
      });
    }).catch(function (e) { main.replaceChildren(h('p', { class: 'error', text: String(e) })); });
  }

  function overlayPage(paths) {
    main.replaceChildren(h('h1', { text: 'Overlay of ' + paths.length + ' runs' }));
    var q = paths.map(function (p) { return 'path=' + encodeURIComponent(p); }).join('&');
    api('/api/metrics?' + q).then(function (all) {
      var rows = [];
      paths.forEach(function (p) {
        var cols = all[p];
        if (!cols) return;
        for (var i = 0; i < cols.iteration.length; i++) {
          if (cols.split && cols.split[i] !== 'train') continue;
          var y = num(cols.metaLoss ? cols.metaLoss[i] : null);
          if (typeof y === 'number') rows.push({ x: cols.iteration[i], y: y, series: p });
        }
      });
      var card = chartCard('train meta-loss', 'overlay');
      main.appendChild(card.card);
      main.appendChild(h('p', {}, paths.map(function (p) { return h('span', {}, [link('#/run/' + encodeURIComponent(p), p), '  ']); })));
      var s = lineSpec({ rows: rows, xLabel: 'meta-iteration', yLabel: 'meta-loss', logY: lossLike(rows), intX: true, width: 640, height: 320 });
      return render('overlay', card.el, s.spec, s.points).then(function () { window.metatape.ready = true; });
    }).catch(function (e) { main.appendChild(h('p', { class: 'error', text: String(e) })); });
  }

  function route() {
    cleanup();
    var hash = decodeURIComponent(location.hash.replace(/^#\/?/, ''));
    var m;
    if ((m = /^run\/(.*)$/.exec(hash))) runPage(m[1]);
    else if ((m = /^comparison\/(.*)$/.exec(hash))) comparisonPage(m[1]);
    else if ((m = /^overlay\/(.*)$/.exec(hash))) overlayPage(m[1].split('|').filter(Boolean));
    else listPage();
  }
  window.addEventListener('hashchange', route);
  route();
})();
`;
