// trafficctl report: draws the charts, the map and the tables from the
// JSON in #report-data. Times there are Unix seconds.
(function () {
  'use strict';
  var D = JSON.parse(document.getElementById('report-data').textContent);
  var TZ = D.tz;
  var PALETTE = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#bcbd22', '#7f7f7f'];
  var charts = [];
  var state = { scope: 0, fitted: -1 };

  // Each category has the same colour on every page (from the data).
  function color(cat) {
    var i = D.categories.indexOf(cat);
    return i < 0 ? '#333' : D.colours[i];
  }
  function feedColor(i) { return PALETTE[(PALETTE.length - 1 - i + PALETTE.length) % PALETTE.length]; }

  var fmt = new Intl.DateTimeFormat('sv-SE', {
    timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit'
  });
  function fmtTime(ts) { return ts == null ? '' : fmt.format(new Date(ts * 1000)); }
  function fmtDur(sec) {
    if (sec == null) return '–';
    var m = Math.round(sec / 60);
    if (m < 60) return m + ' min';
    var h = Math.floor(m / 60);
    if (h < 48) return h + ' h' + (m % 60 ? ' ' + (m % 60) + ' min' : '');
    return Math.floor(h / 24) + ' d ' + (h % 24) + ' h';
  }
  function esc(s) {
    return String(s == null ? '' : s).replace(/[&<>"']/g, function (c) {
      return { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c];
    });
  }
  function el(id) { return document.getElementById(id); }
  function width(id) { return Math.max(320, el(id).clientWidth || 800); }
  function tzDate(ts) { return uPlot.tzDate(new Date(ts * 1000), TZ); }
  // A time axis spans at least an interval either side: runs in one
  // second would otherwise be spread over years.
  function timeScale(ts) {
    var lo = ts[0], hi = ts[ts.length - 1], pad = Math.max(D.every || 0, 3600);
    if (lo === hi) { lo -= pad; hi += pad; }
    var margin = (hi - lo) * 0.02; // the first and last points stay inside
    return { time: true, auto: false, range: [lo - margin, hi + margin] };
  }

  function empty(id, text) {
    el(id).innerHTML = '<p class="empty">' + esc(text) + '</p>';
  }

  function plot(id, opts, data) {
    el(id).innerHTML = '';
    opts.width = width(id);
    opts.height = opts.height || 260;
    var u = new uPlot(opts, data, el(id));
    charts.push(u);
    return u;
  }

  // Collection health: events received per run, failed runs, gaps.
  function health(sc) {
    var r = sc.runs;
    if (!r.t || r.t.length === 0) return empty('health-chart', 'No runs in this window.');
    var feeds = [];
    r.feed.forEach(function (f) { if (feeds.indexOf(f) < 0) feeds.push(f); });
    feeds.sort(function (a, b) { return a - b; });
    var data = [r.t];
    var series = [{}];
    feeds.forEach(function (f) {
      data.push(r.t.map(function (_, i) { return r.feed[i] === f && r.ok[i] ? r.n[i] : null; }));
      // Points, not a line: a line would join runs across the gaps.
      series.push({ label: D.feeds[f] + ': events received', stroke: feedColor(f), fill: feedColor(f), paths: function () { return null; },
        points: { show: true, size: 5, fill: feedColor(f) } });
    });
    data.push(r.t.map(function (_, i) { return r.ok[i] ? null : 0; }));
    series.push({ label: 'failed run', stroke: '#d62728', width: 0, paths: function () { return null; },
      points: { show: true, size: 9, fill: '#d62728', stroke: '#d62728' } });
    plot('health-chart', {
      tzDate: tzDate, series: series, scales: { x: timeScale(r.t) },
      axes: [{}, { label: 'events received' }],
      hooks: { drawClear: [function (u) { shade(u, sc.gaps); }] }
    }, data);
    var s = sc.summary;
    el('health-summary').innerHTML = s.runs + ' runs (' + s.failed + ' failed) from ' + esc(fmtTime(s.first)) + ' to ' +
      esc(fmtTime(s.last)) + '; ' + sc.gaps.length + ' gaps (shaded: longer than twice the usual time between runs).' +
      failures(sc);
  }

  function failures(sc) {
    var r = sc.runs, rows = [];
    for (var i = r.t.length - 1; i >= 0 && rows.length < 5; i--) {
      if (!r.ok[i]) rows.push('<li>' + esc(fmtTime(r.t[i])) + ' ' + esc(D.feeds[r.feed[i]]) + ': ' + esc(r.err[i]) + '</li>');
    }
    return rows.length ? '<br>Latest failures:<ul>' + rows.join('') + '</ul>' : '';
  }

  function shade(u, gaps) {
    var ctx = u.ctx, b = u.bbox;
    ctx.save();
    ctx.fillStyle = 'rgba(214, 39, 40, 0.12)';
    gaps.forEach(function (g) {
      var x0 = Math.max(b.left, u.valToPos(g[0], 'x', true));
      var x1 = Math.min(b.left + b.width, u.valToPos(g[1], 'x', true));
      if (x1 > x0) ctx.fillRect(x0, b.top, x1 - x0, b.height);
    });
    ctx.restore();
  }

  // Active events by category, and new and closed per interval.
  function active(sc) {
    var s = sc.series;
    if (!s.t || s.t.length === 0) {
      empty('active-chart', 'No intervals in this window.');
      return empty('flow-chart', 'No intervals in this window.');
    }
    // Points too: a value between two gaps has no line to be part of.
    var showPoints = true;
    var data = [s.t, s.total], series = [{}, { label: 'all', stroke: '#000', width: 2, dash: [6, 4], points: { show: showPoints, size: 3 } }];
    D.categories.forEach(function (c) {
      if (!s.open[c]) return;
      data.push(s.open[c]);
      series.push({ label: c, stroke: color(c), width: 1.5, points: { show: showPoints, size: 3 } });
    });
    plot('active-chart', { tzDate: tzDate, series: series, scales: { x: timeScale(s.t) }, axes: [{}, { label: 'events present' }] }, data);
    var bars = uPlot.paths.bars({ size: [0.7, 40] });
    plot('flow-chart', {
      tzDate: tzDate, height: 200, scales: { x: timeScale(s.t) }, axes: [{}, { label: 'events' }],
      series: [{}, { label: 'new', stroke: '#2ca02c', fill: 'rgba(44,160,44,0.5)', paths: bars, points: { show: false } },
        { label: 'closed (below zero)', stroke: '#d62728', fill: 'rgba(214,39,40,0.5)', paths: bars, points: { show: false } }]
    }, [s.t, s.new, s.closed.map(function (v) { return v == null ? null : -v; })]);
  }

  // Kaplan–Meier curves: a step at each closing, ticks at open events
  // (censored), circles at events seen in the first run.
  function survival(sc) {
    var curves = sc.km;
    if (!curves || curves.length === 0) {
      el('km-table').innerHTML = '';
      return empty('km-chart', 'No events in this window.');
    }
    var scale = 3600, unit = 'hours';
    var longest = 0;
    curves.forEach(function (c) { longest = Math.max(longest, c.t[c.t.length - 1]); });
    if (longest > 4 * 86400) { scale = 86400; unit = 'days'; }
    var xs = [];
    curves.forEach(function (c) { c.t.forEach(function (t) { xs.push(t); }); });
    xs = Array.from(new Set(xs)).sort(function (a, b) { return a - b; });
    function at(c, arr, t) {
      if (t > c.t[c.t.length - 1]) return null;
      var lo = 0, hi = c.t.length - 1;
      while (lo < hi) { var mid = (lo + hi + 1) >> 1; if (c.t[mid] <= t) lo = mid; else hi = mid - 1; }
      return arr[lo];
    }
    var data = [xs.map(function (t) { return t / scale; })];
    var series = [{}];
    var stepped = uPlot.paths.stepped({ align: 1 });
    var all = curves[0];
    data.push(xs.map(function (t) { return at(all, all.lo, t); }));
    data.push(xs.map(function (t) { return at(all, all.hi, t); }));
    series.push({ label: '95% band (all), lower', stroke: 'rgba(0,0,0,0.15)', paths: stepped, points: { show: false } });
    series.push({ label: '95% band (all), upper', stroke: 'rgba(0,0,0,0.15)', paths: stepped, points: { show: false } });
    var curveSeries = [];
    curves.forEach(function (c) {
      curveSeries.push(series.length);
      data.push(xs.map(function (t) { return at(c, c.s, t); }));
      series.push({ label: c.cat || 'all', stroke: c.cat ? color(c.cat) : '#000', width: c.cat ? 1.5 : 2.5, paths: stepped,
        spanGaps: true, points: { show: false } });
    });
    plot('km-chart', {
      height: 300, series: series, scales: { x: { time: false, range: function (u, min, max) { return [0, max > 0 ? max : 1]; } }, y: { range: [0, 1.02] } },
      axes: [{ label: 'duration (' + unit + ')' }, { label: 'still open' }],
      bands: [{ series: [2, 1], fill: 'rgba(0,0,0,0.07)' }],
      hooks: {
        draw: [function (u) {
          var ctx = u.ctx;
          ctx.save();
          curves.forEach(function (c, k) {
            var si = curveSeries[k];
            if (!u.series[si].show) return;
            ctx.strokeStyle = u.series[si]._stroke || '#000';
            ctx.lineWidth = 1;
            c.censored.forEach(function (t) {
              var x = u.valToPos(t / scale, 'x', true), y = u.valToPos(at(c, c.s, t), 'y', true);
              ctx.beginPath(); ctx.moveTo(x, y - 5); ctx.lineTo(x, y + 5); ctx.stroke();
            });
            c.started.forEach(function (t) {
              var x = u.valToPos(t / scale, 'x', true), y = u.valToPos(at(c, c.s, t), 'y', true);
              ctx.beginPath(); ctx.arc(x, y, 3.5, 0, 2 * Math.PI); ctx.stroke();
            });
          });
          ctx.restore();
        }]
      }
    }, data);
    var rows = curves.map(function (c) {
      var ci = c.median == null ? '' : ' (' + fmtDur(c.medianLo) + ' to ' + (c.medianHi == null ? 'not reached' : fmtDur(c.medianHi)) + ')';
      return '<tr><td><span class="swatch" style="background:' + (c.cat ? color(c.cat) : '#000') + '"></span>' + esc(c.cat || 'all') +
        '</td><td>' + c.n + '</td><td>' + c.closed + '</td><td>' + (c.n - c.closed) + '</td><td>' + c.seenAtStart +
        '</td><td>' + (c.median == null ? 'not reached' : fmtDur(c.median)) + ci + '</td></tr>';
    });
    el('km-table').innerHTML = '<tr><th>category</th><th>events</th><th>closed</th><th>open (censored, ticks)</th>' +
      '<th>seen in the first run (circles)</th><th>median duration (95% CI)</th></tr>' + rows.join('');
  }

  // The map.
  var map = null, layer = null, basemapDown = false;
  function noticeBasemap(text) {
    basemapDown = true;
    el('map-notice').textContent = text;
    el('map-notice').hidden = false;
  }
  function initMap() {
    map = L.map('map', { preferCanvas: true, worldCopyJump: true }).setView([20, 0], 2);
    if (D.tiles) {
      var tiles = L.tileLayer(D.tiles, { maxZoom: 19, attribution: '&copy; OpenStreetMap contributors' });
      tiles.on('tileerror', function () {
        if (!basemapDown) noticeBasemap('The basemap is unavailable (offline, or its server refused): the events are drawn on a plain background.');
      });
      tiles.addTo(map);
    } else {
      noticeBasemap('No basemap in this report: the events are drawn on a plain background.');
    }
    el('map-filter').addEventListener('change', drawMap);
    el('map-time').addEventListener('input', function () { el('map-filter').value = 'at'; drawMap(); });
  }
  // The time slider spans the scope's events: first seen to last seen.
  function setSlider(sc) {
    var ev = D.events, first = Infinity, last = -Infinity;
    for (var i = 0; i < ev.id.length; i++) {
      if (sc.feed >= 0 && ev.feed[i] !== sc.feed) continue;
      first = Math.min(first, ev.first[i]);
      last = Math.max(last, ev.last[i]);
    }
    if (first > last) { first = last = 0; }
    var slider = el('map-time');
    slider.min = first; slider.max = last; slider.step = 60; slider.value = last;
  }
  function popup(i) {
    var ev = D.events;
    var closed = ev.closed[i] == null ? 'open (last seen ' + fmtTime(ev.last[i]) + ')' : 'closed ' + fmtTime(ev.closed[i]);
    var road = ev.road[i] ? ev.road[i] + (ev.dir[i] ? ' (' + ev.dir[i] + ')' : '') : '';
    var html = '<b>' + esc(ev.headline[i] || ev.id[i]) + '</b><br>' + esc(D.feeds[ev.feed[i]]) + ' · ' + esc(D.categories[ev.cat[i]]) +
      (ev.impact[i] ? ' · impact: ' + esc(ev.impact[i]) : '') +
      '<br>first seen ' + esc(fmtTime(ev.first[i])) + (ev.seenAtStart[i] ? ' (in the first run: began earlier)' : '') +
      '<br>' + esc(closed) + (road ? '<br>' + esc(road) : '');
    if (ev.link[i]) html += '<br><a href="' + esc(ev.link[i]) + '" target="_blank" rel="noopener noreferrer">link</a>';
    return html;
  }
  function drawMap() {
    var sc = D.scopes[state.scope], ev = D.events, mode = el('map-filter').value;
    var t = +el('map-time').value;
    el('map-time-label').textContent = mode === 'at' ? fmtTime(t) + ' (' + TZ + ')' : '';
    el('map-time').disabled = mode !== 'at';
    var features = [];
    for (var i = 0; i < ev.id.length; i++) {
      if (sc.feed >= 0 && ev.feed[i] !== sc.feed) continue;
      if (!ev.geom[i]) continue;
      if (mode === 'open' && ev.closed[i] != null) continue;
      if (mode === 'at' && (ev.first[i] > t || ev.last[i] < t)) continue;
      features.push({ type: 'Feature', geometry: ev.geom[i], properties: { i: i } });
    }
    if (layer) map.removeLayer(layer);
    layer = L.geoJSON({ type: 'FeatureCollection', features: features }, {
      style: function (f) { return { color: color(D.categories[ev.cat[f.properties.i]]), weight: 3, opacity: 0.85 }; },
      pointToLayer: function (f, latlng) {
        var c = color(D.categories[ev.cat[f.properties.i]]);
        return L.circleMarker(latlng, { radius: 5, color: c, fillColor: c, fillOpacity: 0.7, weight: 1 });
      },
      onEachFeature: function (f, l) { l.bindPopup(function () { return popup(f.properties.i); }); }
    }).addTo(map);
    window.__report.mapFeatures = features.length;
    window.__report.mapLayer = layer;
    el('map-count').textContent = features.length + ' events shown';
    if (state.fitted !== state.scope && features.length) {
      state.fitted = state.scope;
      map.fitBounds(layer.getBounds(), { padding: [20, 20], maxZoom: 14 });
    }
    var legend = D.categories.map(function (c) {
      return '<span class="swatch" style="background:' + color(c) + '"></span>' + esc(c);
    });
    el('map-legend').innerHTML = legend.join(' ');
  }

  function tables(sc) {
    el('roads').innerHTML = '<tr><th>road</th><th>events</th></tr>' + (sc.roads.length ? sc.roads.map(function (r) {
      return '<tr><td>' + esc(r.road) + '</td><td>' + r.n + '</td></tr>';
    }).join('') : '<tr><td colspan="2" class="empty">No roads named.</td></tr>');
    var names = sc.noRoads.map(function (f) { return esc(f); }).join(', ');
    el('roads-note').innerHTML = !sc.noRoads.length ? '' : sc.roads.length ?
      'The events of ' + names + ' name no road: these are the other feeds\' roads only.' :
      'The events of ' + names + ' name no road (the feed leaves their roads empty).';
    var ev = D.events;
    el('longest').innerHTML = '<tr><th>event</th><th>feed</th><th>category</th><th>first seen</th><th>open for</th></tr>' +
      (sc.longest.length ? sc.longest.map(function (i) {
        var text = ev.headline[i] || ev.id[i];
        var name = esc(text.length > 110 ? text.slice(0, 107) + '…' : text);
        if (ev.link[i]) name = '<a href="' + esc(ev.link[i]) + '" target="_blank" rel="noopener noreferrer">' + name + '</a>';
        return '<tr><td>' + name + '</td><td>' + esc(D.feeds[ev.feed[i]]) + '</td><td>' + esc(D.categories[ev.cat[i]]) +
          '</td><td class="nowrap">' + esc(fmtTime(ev.first[i])) + '</td><td class="nowrap">' + (ev.seenAtStart[i] ? '&ge; ' : '') +
          esc(fmtDur(ev.last[i] - ev.first[i])) + '</td></tr>';
      }).join('') : '<tr><td colspan="5" class="empty">No open events.</td></tr>');
  }

  function render() {
    charts.forEach(function (u) { u.destroy(); });
    charts = [];
    var sc = D.scopes[state.scope];
    health(sc);
    active(sc);
    survival(sc);
    setSlider(sc);
    drawMap();
    tables(sc);
    window.__report.charts = charts.length;
  }

  function meta() {
    var win = (D.since ? fmtTime(D.since) : 'the first run') + ' to ' + (D.until ? fmtTime(D.until) : 'the last run');
    el('meta').textContent = 'Made ' + fmtTime(D.generated) + ' (' + TZ + '). Window: ' + win + '. Feeds: ' +
      (D.feeds.join(', ') || 'none') + '. Intervals of ' + fmtDur(D.every) + ', aligned to ' + D.aligned + '.';
    var sel = el('scope');
    D.scopes.forEach(function (sc, i) {
      var o = document.createElement('option');
      o.value = i; o.textContent = sc.name;
      sel.appendChild(o);
    });
    sel.addEventListener('change', function () { state.scope = +sel.value; render(); });
  }

  window.__report = { ready: false };
  meta();
  initMap();
  render();
  var resizeTimer = null;
  window.addEventListener('resize', function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(render, 200);
  });
  window.__report.ready = true;
})();
