// Fills the V8 heap, limited to the problem's memory limit by --max-old-space-size.
const hoard: number[][] = [];
for (;;) hoard.push(new Array(1 << 20).fill(1.5));
