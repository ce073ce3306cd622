const data: string = require("fs").readFileSync(0, "utf8");
const [a, b] = data.trim().split(/\s+/).map(BigInt);
console.log((a + b).toString());
