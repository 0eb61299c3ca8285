// SPDX-License-Identifier: MIT
/*
 * The live page (/): every sensor with its newest value, unit, quality,
 * age and 10-minute trend (an inline SVG sparkline), the buses, the MQTT
 * backlog, the open run and the daemon. The server renders the current
 * values into the HTML, so the page is complete without scripts; a small
 * inline script then fetches /api/status?trend=1 every 2 s and redraws
 * the same parts the same way. One column under 600 px. Nothing is
 * loaded from anywhere: no fonts, no images, no other host (the server's
 * Content-Security-Policy says so too).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/fmt.h"
#include "drivers/decode.h"
#include "web/web.h"

/* The sparkline's size in SVG units (and CSS pixels). */
#define SPARK_W 120
#define SPARK_H 24

static const char page_css[] =
    "body{font:15px/1.4 system-ui,sans-serif;margin:0 auto;max-width:1100px;"
    "padding:8px 12px;color:#222;background:#fff}"
    "h1{font-size:1.3em;margin:.3em 0}h2{font-size:1.05em;margin:1em 0 .3em}"
    "table{border-collapse:collapse;width:100%}"
    "th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #ddd;"
    "vertical-align:middle}td.n{text-align:right;font-variant-numeric:"
    "tabular-nums}.q-good{color:#060}.q-out_of_range{color:#a60}"
    ".q-invalid,.q-comm_error,.q-missed,.down{color:#b00;font-weight:bold}"
    ".up{color:#060}.meta{color:#555}svg{display:block}"
    "ul.b{list-style:none;padding:0;margin:0}ul.b li{display:inline-block;"
    "margin-right:1em}"
    "@media (max-width:600px){table,thead,tbody,tr,th,td{display:block}"
    "thead{display:none}tr{border-bottom:2px solid #ccc;padding:4px 0}"
    "td{border:0;padding:1px 0}td.n{text-align:left}}"
    "@media print{script{display:none}}";

/* The redraw: the same markup as the server's, from /api/status. */
static const char page_script[] =
    "(function(){'use strict';"
    "function esc(s){return String(s==null?'':s).replace(/[&<>\"']/g,"
    "function(c){return '&#'+c.charCodeAt(0)+';';});}"
    "function age(s){if(s==null)return '-';if(s<60)return s.toFixed(1)+' s';"
    "if(s<3600)return (s/60).toFixed(0)+' min';if(s<86400)return "
    "(s/3600).toFixed(1)+' h';return (s/86400).toFixed(0)+' d';}"
    "function spark(t){if(!t)return '';var lo=Infinity,hi=-Infinity;"
    "t.forEach(function(v){if(v!=null){lo=Math.min(lo,v);hi=Math.max(hi,v);"
    "}});var o='<svg width=\"120\" height=\"24\" viewBox=\"0 0 120 24\" "
    "role=\"img\" aria-label=\"trend\">';if(lo<=hi){var p=[];"
    "t.forEach(function(v,i){if(v==null){if(p.length)o+=line(p);p=[];return;"
    "}var x=(i*120/(t.length-1)).toFixed(1),y=(hi>lo?22-(v-lo)*20/(hi-lo):"
    "12).toFixed(1);p.push(x+','+y);});if(p.length)o+=line(p);}"
    "return o+'</svg>';}"
    "function line(p){if(p.length==1){var c=p[0].split(',');return "
    "'<circle cx=\"'+c[0]+'\" cy=\"'+c[1]+'\" r=\"1.5\" fill=\"#036\"/>';}"
    "return '<polyline fill=\"none\" stroke=\"#036\" stroke-width=\"1.5\" "
    "points=\"'+p.join(' ')+'\"/>';}"
    "function draw(d){var r='';d.sensors.forEach(function(s){"
    "r+='<tr id=\"s-'+esc(s.id)+'\"><td>'+esc(s.id)+'</td><td class=\"n\">'"
    "+(s.value==null?'-':esc(s.value))+'</td><td>'+esc(s.unit)+'</td>"
    "<td class=\"q-'+esc(s.quality)+'\">'+esc(s.quality||'no readings')+"
    "(s.error?' ('+esc(s.error)+')':'')+'</td><td class=\"n\">'+age(s.age_s)"
    "+'</td><td>'+spark(s.trend)+'</td></tr>';});"
    "document.getElementById('sensors').innerHTML=r;var b='';"
    "d.buses.forEach(function(x){b+='<li>'+esc(x.name)+': <span class=\"'+"
    "(x.up?'up\">up':'down\">down')+'</span></li>';});"
    "document.getElementById('buses').innerHTML=b;"
    "var dm=d.daemon.running?'running since '+esc(d.daemon.started)+', '+"
    "d.daemon.recorded+' readings recorded':'<span class=\"down\">not "
    "running</span>';document.getElementById('daemon').innerHTML=dm;"
    "document.getElementById('mqtt').textContent=d.mqtt.state+', backlog '+"
    "d.mqtt.backlog+' readings';document.getElementById('run').innerHTML="
    "d.run?'<a href=\"/runs/'+encodeURIComponent(d.run.name)+'\">'+"
    "esc(d.run.name)+'</a> open since '+esc(d.run.started)+', '+"
    "d.run.readings+' readings':'none open';"
    "document.getElementById('now').textContent=d.now;}"
    "function tick(){var x=new XMLHttpRequest();x.open('GET',"
    "'/api/status?trend=1');x.onload=function(){if(x.status==200){try{"
    "draw(JSON.parse(x.responseText));}catch(e){}}};x.send();}"
    "setInterval(tick,2000);})();";

void render_head(struct buf *b, const char *title)
{
    buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                "<meta charset=\"utf-8\">"
                "<meta name=\"viewport\" content=\"width=device-width,"
                "initial-scale=1\"><title>");
    buf_html(b, title);
    buf_printf(b, "</title><style>%s</style></head><body>\n", page_css);
}

void render_foot(struct buf *b)
{
    buf_puts(b, "</body></html>\n");
}

/* An age as people read it, as tbdaq status writes it. */
static void render_age(struct buf *b, int64_t us)
{
    double s = (double)us / 1e6;

    if (s < 60)
        buf_printf(b, "%.1f s", s < 0 ? 0.0 : s);
    else if (s < 3600)
        buf_printf(b, "%.0f min", s / 60);
    else if (s < 86400)
        buf_printf(b, "%.1f h", s / 3600);
    else
        buf_printf(b, "%.0f d", s / 86400);
}

static void spark_line(struct buf *b, const char *pts, int npts, double x,
                       double y)
{
    if (npts == 1)
        buf_printf(b,
                   "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"1.5\" "
                   "fill=\"#036\"/>",
                   x, y);
    else if (npts > 1)
        buf_printf(b,
                   "<polyline fill=\"none\" stroke=\"#036\" "
                   "stroke-width=\"1.5\" points=\"%s\"/>",
                   pts);
}

/* The trend as an SVG sparkline: a line through the buckets that hold a
 * good value, broken where one holds none. */
static void render_spark(struct buf *b, const struct model_sensor *s,
                         int64_t now_us)
{
    double t[WEB_TREND_BUCKETS], lo = INFINITY, hi = -INFINITY, x = 0, y = 0;
    char pts[WEB_TREND_BUCKETS * 16] = "";
    size_t used = 0;
    int npts = 0;

    model_trend(s, now_us, t);
    for (int i = 0; i < WEB_TREND_BUCKETS; i++)
        if (!isnan(t[i])) {
            lo = fmin(lo, t[i]);
            hi = fmax(hi, t[i]);
        }
    buf_printf(b,
               "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" "
               "role=\"img\" aria-label=\"trend\">",
               SPARK_W, SPARK_H, SPARK_W, SPARK_H);
    for (int i = 0; i < WEB_TREND_BUCKETS && lo <= hi; i++) {
        if (isnan(t[i])) {
            spark_line(b, pts, npts, x, y);
            npts = 0;
            used = 0;
            continue;
        }
        x = i * (double)SPARK_W / (WEB_TREND_BUCKETS - 1);
        y = hi > lo ? 22 - (t[i] - lo) * 20 / (hi - lo) : 12;
        used += (size_t)snprintf(pts + used, sizeof(pts) - used, "%s%.1f,%.1f",
                                 npts ? " " : "", x, y);
        npts++;
    }
    spark_line(b, pts, npts, x, y);
    buf_puts(b, "</svg>");
}

static void render_sensor_row(struct buf *b, const struct model_sensor *s,
                              int64_t now_us)
{
    const char *q =
        s->has_reading ? quality_name((enum quality)s->quality) : "";
    char v[FMT_DOUBLE_LEN];

    buf_puts(b, "<tr id=\"s-");
    buf_html(b, s->tag);
    buf_puts(b, "\"><td>");
    buf_html(b, s->tag);
    buf_puts(b, "</td><td class=\"n\">");
    if (s->has_reading && s->has_value) {
        fmt_double(s->value, v);
        buf_puts(b, v);
    } else {
        buf_puts(b, "-");
    }
    buf_puts(b, "</td><td>");
    buf_html(b, s->unit);
    buf_printf(b, "</td><td class=\"q-%s\">%s", q,
               s->has_reading ? q : "no readings");
    if (s->has_reading && s->error[0]) {
        buf_puts(b, " (");
        buf_html(b, s->error);
        buf_puts(b, ")");
    }
    buf_puts(b, "</td><td class=\"n\">");
    if (s->has_reading)
        render_age(b, now_us - s->ts_us);
    else
        buf_puts(b, "-");
    buf_puts(b, "</td><td>");
    render_spark(b, s, now_us);
    buf_puts(b, "</td></tr>\n");
}

/* The daemon, the buses, MQTT and the run, above the sensors. */
static void render_state(struct buf *b, const struct model_view *v)
{
    buf_puts(b, "<p>tbdaqd: <span id=\"daemon\">");
    if (v->daemon.up) {
        buf_puts(b, "running since ");
        buf_time(b, v->daemon.started_us);
        buf_printf(b, ", %lld readings recorded", v->daemon.recorded);
    } else {
        buf_puts(b, "<span class=\"down\">not running</span>");
    }
    buf_puts(b, "</span><br>MQTT: <span id=\"mqtt\">");
    buf_html(b, v->daemon.up ? v->daemon.mqtt : "unknown");
    buf_printf(b, ", backlog %lld readings</span><br>Run: <span id=\"run\">",
               v->backlog > 0 ? v->backlog : 0);
    if (v->run_open) {
        buf_puts(b, "<a href=\"/runs/");
        buf_html(b, v->run_name); /* a name needs no URL escape */
        buf_puts(b, "\">");
        buf_html(b, v->run_name);
        buf_puts(b, "</a> open since ");
        buf_time(b, v->run_started_us);
        buf_printf(b, ", %lld readings", (long long)v->run_readings);
    } else {
        buf_puts(b, "none open");
    }
    buf_puts(b, "</span></p>\n<h2>Buses</h2><ul class=\"b\" id=\"buses\">");
    for (size_t i = 0; i < v->nbuses; i++) {
        bool up = model_bus_up(v, &v->buses[i]);

        buf_puts(b, "<li>");
        buf_html(b, v->buses[i].name);
        buf_printf(b, ": <span class=\"%s\">%s</span></li>", up ? "up" : "down",
                   up ? "up" : "down");
    }
    buf_puts(b, "</ul>\n");
}

void render_live(const struct model_view *v, int64_t now_us, struct buf *b)
{
    char title[CONFIG_NAME_MAX + 32];

    snprintf(title, sizeof(title), "tbdaq %s", v->site[0] ? v->site : "");
    render_head(b, title);
    buf_puts(b, "<h1>");
    buf_html(b, title);
    buf_puts(b, "</h1><p class=\"meta\"><span id=\"now\">");
    buf_time(b, now_us);
    buf_puts(b, "</span> &middot; <a href=\"/runs\">runs</a> &middot; "
                "<a href=\"/metrics\">metrics</a></p>\n");
    if (!v->db_ok) {
        buf_puts(b, "<p class=\"down\">database: ");
        buf_html(b, v->db_error);
        buf_puts(b, "</p>\n");
    }
    render_state(b, v);
    buf_puts(b, "<h2>Sensors</h2><table><thead><tr><th>sensor</th>"
                "<th>value</th><th>unit</th><th>quality</th><th>age</th>"
                "<th>last 10 min</th></tr></thead><tbody id=\"sensors\">\n");
    for (size_t i = 0; i < v->nsensors; i++)
        render_sensor_row(b, &v->sensors[i], now_us);
    buf_printf(b, "</tbody></table>\n<script>%s</script>\n", page_script);
    render_foot(b);
}
