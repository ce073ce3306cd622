const t = require('fs').readFileSync(0, 'utf8').trim().split(/\s+/).map(Number);
const n = t[0];
let s = 0;
for (let i = 1; i <= n; i++) s += t[i];
console.log((s / n).toFixed(7));
