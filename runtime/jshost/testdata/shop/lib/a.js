// a and b require each other: b sees a's exports as they are so far.
exports.early = 1;
const b = require('./b');
exports.fromB = b.seenA;
