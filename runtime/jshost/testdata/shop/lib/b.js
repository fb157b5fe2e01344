const a = require('./a');
exports.seenA = a.early;
