#include "web/assets.hpp"

namespace mv::web {

namespace {

constexpr std::string_view css = R"CSS(
:root { --fg:#1d232b; --muted:#5d6b7a; --line:#d9dee4; --bg:#f6f7f9; --accent:#1f5fbf; --warn:#9a5b00; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; gap:1rem; align-items:center; padding:.6rem 1.2rem; background:#fff; border-bottom:1px solid var(--line); position:sticky; top:0; }
header.top .brand { font-weight:700; color:var(--fg); text-decoration:none; letter-spacing:.02em; }
header.top form.search { flex:1; display:flex; gap:.4rem; max-width:46rem; }
header.top input[type=search] { flex:1; padding:.45rem .6rem; border:1px solid var(--line); border-radius:6px; font:inherit; }
button, .button { padding:.42rem .8rem; border:1px solid var(--accent); background:var(--accent); color:#fff; border-radius:6px; font:inherit; cursor:pointer; text-decoration:none; display:inline-block; }
.button.light, button.light { background:#fff; color:var(--accent); }
nav.links { display:flex; gap:.9rem; align-items:center; }
nav.links a { color:var(--muted); text-decoration:none; }
nav.links a:hover { color:var(--accent); }
nav.links form { margin:0; }
main { padding:1rem 1.2rem 3rem; max-width:78rem; margin:0 auto; }
h1 { font-size:1.3rem; margin:.3rem 0 1rem; }
h2 { font-size:1.05rem; margin:1.4rem 0 .5rem; }
a { color:var(--accent); }
.muted { color:var(--muted); }
.error { background:#fdecea; border:1px solid #f5c2bd; padding:.6rem .8rem; border-radius:6px; }
.notice { background:#fff7e6; border:1px solid #f3d7a3; color:var(--warn); padding:.5rem .8rem; border-radius:6px; margin:.6rem 0; }
table.list { width:100%; border-collapse:collapse; background:#fff; border:1px solid var(--line); border-radius:8px; overflow:hidden; }
table.list th, table.list td { padding:.45rem .6rem; border-bottom:1px solid var(--line); text-align:left; vertical-align:top; }
table.list th { font-size:.8rem; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); background:#fafbfc; }
table.list tr:last-child td { border-bottom:0; }
table.list td.num { text-align:right; white-space:nowrap; font-variant-numeric:tabular-nums; }
table.list td.date { white-space:nowrap; color:var(--muted); }
table.list a.subject { font-weight:600; text-decoration:none; }
.snippet { color:var(--muted); font-size:.9rem; }
mark { background:#ffe58a; padding:0 .1em; border-radius:2px; }
.pager { display:flex; gap:1rem; align-items:center; margin:.8rem 0; }
.tag { display:inline-block; font-size:.75rem; padding:.05rem .4rem; border-radius:4px; background:#eef1f5; color:var(--muted); margin-right:.2rem; }
.tag.hold { background:#fde2e1; color:#8a1c14; }
.tag.gone { background:#f1f1f1; color:#777; }
dl.headers { display:grid; grid-template-columns:8rem 1fr; gap:.25rem .8rem; background:#fff; border:1px solid var(--line); border-radius:8px; padding:.8rem 1rem; margin:0 0 1rem; }
dl.headers dt { color:var(--muted); }
dl.headers dd { margin:0; overflow-wrap:anywhere; }
.actions { display:flex; flex-wrap:wrap; gap:.5rem; margin:.8rem 0; }
pre.text { white-space:pre-wrap; overflow-wrap:anywhere; background:#fff; border:1px solid var(--line); border-radius:8px; padding:1rem; font:14px/1.5 ui-monospace, SFMono-Regular, Menlo, monospace; }
iframe.html { width:100%; height:34rem; border:1px solid var(--line); border-radius:8px; background:#fff; resize:vertical; }
ul.tree { list-style:none; padding-left:0; margin:.2rem 0 1rem; }
ul.tree li { padding:.15rem 0; }
ul.tree li.depth-1 { padding-left:1.2rem; } ul.tree li.depth-2 { padding-left:2.4rem; } ul.tree li.depth-3 { padding-left:3.6rem; }
ul.tree li.depth-4, ul.tree li.depth-5, ul.tree li.depth-6 { padding-left:4.8rem; }
ul.tree .count { color:var(--muted); font-size:.85rem; margin-left:.4rem; }
.tabs { display:flex; gap:.5rem; margin:.6rem 0; }
details.allheaders pre { white-space:pre-wrap; font-size:.85rem; }
form.login { max-width:22rem; margin:4rem auto; background:#fff; border:1px solid var(--line); border-radius:10px; padding:1.5rem; display:grid; gap:.7rem; }
form.login input { padding:.5rem; border:1px solid var(--line); border-radius:6px; font:inherit; }
code { font-size:.85em; }
)CSS";

// Focus the search box with "/"; nothing else. The message's own HTML never reaches a page with
// this script: it is shown in a sandboxed frame that may run no script at all.
constexpr std::string_view js = R"JS(
document.addEventListener('keydown', function (e) {
  if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
  var t = e.target && e.target.tagName;
  if (t === 'INPUT' || t === 'TEXTAREA') return;
  var q = document.getElementById('q');
  if (q) { e.preventDefault(); q.focus(); q.select(); }
});
)JS";

const asset assets[] = {
    {"text/css; charset=utf-8", css},
    {"text/javascript; charset=utf-8", js},
};

}  // namespace

const asset* find_asset(std::string_view name) {
    if (name == "app.css") return &assets[0];
    if (name == "app.js") return &assets[1];
    return nullptr;
}

}  // namespace mv::web
