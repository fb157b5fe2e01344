module.exports = {;
