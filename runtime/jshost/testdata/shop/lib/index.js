module.exports = { name: 'lib-index' };
