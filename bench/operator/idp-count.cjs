// Preloaded into the test identity provider by bench/operator/run.py
// (`node --require bench/operator/idp-count.cjs tests/idp/idp.mjs`): counts the
// HTTP requests the provider receives, by path, and writes the counts as JSON to
// $IDP_COUNT_FILE every 200 ms and at exit. The benchmark reads it to see how
// many discovery documents the operator fetched. The provider itself is unchanged.
'use strict';
const http = require('node:http');
const fs = require('node:fs');

const file = process.env.IDP_COUNT_FILE;
if (file) {
  const counts = {};
  let dirty = true;
  const emit = http.Server.prototype.emit;
  http.Server.prototype.emit = function (event, req, ...rest) {
    if (event === 'request' && req && typeof req.url === 'string') {
      const path = req.url.split('?')[0];
      counts[path] = (counts[path] || 0) + 1;
      dirty = true;
    }
    return emit.call(this, event, req, ...rest);
  };
  const flush = () => {
    if (!dirty) return;
    dirty = false;
    const tmp = `${file}.tmp`;
    fs.writeFileSync(tmp, JSON.stringify(counts));
    fs.renameSync(tmp, file);
  };
  setInterval(flush, 200).unref();
  process.on('exit', flush);
}
