const x: number = "three";
console.log(x);
