/**
 * A browsable API reference served at `/docs`: one self-contained page that reads this Worker's
 * `/openapi.json` and lists every operation (with its operationId) and its parameters and responses. No CDN, so it
 * works offline and on locked-down networks.
 */
export const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Isoplane API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1b1b1f}
h1{font-size:1.6rem}code,pre{font:13px ui-monospace,monospace}pre{background:#f4f4f6;padding:.6rem;overflow:auto}
details{border:1px solid #ddd;border-radius:6px;margin:.4rem 0;padding:.4rem .8rem}summary{cursor:pointer}
.m{display:inline-block;min-width:4.5rem;font-weight:700;text-transform:uppercase}.get{color:#0a7}.post{color:#06c}.put{color:#a60}.patch{color:#a3a}.delete{color:#c22}
</style></head><body><h1 id="title">Isoplane API</h1><p id="desc"></p><div id="ops">Loading /openapi.json…</div>
<script>
fetch("openapi.json").then(r=>r.json()).then(doc=>{
  document.getElementById("title").textContent=doc.info.title+" "+doc.info.version;
  document.getElementById("desc").textContent=(doc.info.description||"")+(doc.servers&&doc.servers[0]?" Server: "+doc.servers[0].url:"");
  const ops=document.getElementById("ops");ops.textContent="";
  for(const [path,item] of Object.entries(doc.paths).sort()){
    for(const [method,op] of Object.entries(item)){
      const d=document.createElement("details");const s=document.createElement("summary");
      s.innerHTML='<span class="m '+method+'">'+method+'</span> <code></code> — <span></span> <small></small>';
      s.querySelector("code").textContent=path;s.querySelector("span:last-of-type").textContent=op.summary||"";s.querySelector("small").textContent=op.operationId||"";
      const pre=document.createElement("pre");pre.textContent=JSON.stringify({parameters:op.parameters,requestBody:op.requestBody,responses:op.responses},null,2);
      d.append(s,pre);ops.append(d);
    }
  }
});
</script></body></html>`;
