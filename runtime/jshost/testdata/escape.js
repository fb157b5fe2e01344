// Outside the shop plugin's folder: shop must not be able to require it.
module.exports = 'escaped';
