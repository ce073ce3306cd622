const data: string = require("fs").readFileSync(0, "utf8");
const [a, b] = data.trim().split(/\s+/);
console.log(a + b); // strings: concatenated, not added
