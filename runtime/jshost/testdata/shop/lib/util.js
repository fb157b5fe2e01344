exports.greet = (name) => 'hi ' + name;
exports.file = __filename;
