/* The HTML of GET /docs: renders /api/v1/openapi.json in the browser with a
 * few lines of inline script (no CDN: government networks are often closed).
 * Kept in a header of its own so that ops.c stays readable. */
#ifndef RECTIFY_DOCS_PAGE_H
#define RECTIFY_DOCS_PAGE_H

static const char docs_page[] =
    "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
    "<title>rectify API</title><style>"
    "body{font:14px/1.5 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em}"
    "h2{border-bottom:1px solid #ccc;margin-top:2em}details{margin:.4em 0}"
    "summary{cursor:pointer}code{background:#f4f4f4;padding:0 .3em}"
    ".m{display:inline-block;width:4.5em;font-weight:bold}.GET{color:#2a7}.POST{color:#27a}"
    ".PATCH{color:#a72}.DELETE{color:#a22}pre{white-space:pre-wrap;background:#f8f8f8;padding:.5em}"
    "</style></head><body><h1 id=\"t\">rectify API</h1><p id=\"d\"></p><div id=\"ops\"></div>"
    "<script>"
    "fetch('/api/v1/openapi.json').then(r=>r.json()).then(s=>{"
    "const e=(t,c,h)=>{const x=document.createElement(t);if(c)x.className=c;"
    "if(h!==undefined)x.textContent=h;return x};"
    "document.getElementById('t').textContent=s.info.title+' '+s.info.version;"
    "document.getElementById('d').textContent=s.info.description||'';"
    "const groups={};"
    "for(const[p,item]of Object.entries(s.paths))for(const[m,op]of Object.entries(item)){"
    "if(typeof op!=='object'||!op.responses)continue;"
    "const tag=(op.tags||['other'])[0];(groups[tag]=groups[tag]||[]).push([m,p,op])}"
    "const root=document.getElementById('ops');"
    "for(const[tag,ops]of Object.entries(groups)){root.appendChild(e('h2','',tag));"
    "for(const[m,p,op]of ops){const d=e('details'),s2=e('summary');"
    "s2.appendChild(e('span','m '+m.toUpperCase(),m.toUpperCase()));"
    "s2.appendChild(e('code','',p));s2.appendChild(document.createTextNode(' '+(op.summary||'')));"
    "d.appendChild(s2);if(op['x-roles'])d.appendChild(e('p','','roles: '+op['x-roles'].join(', ')));"
    "if(op.description)d.appendChild(e('pre','',op.description));"
    "d.appendChild(e('p','','responses: '+Object.keys(op.responses).join(', ')));"
    "root.appendChild(d)}}});"
    "</script></body></html>";

#endif
