// A folder plugin: modules and JSON beside index.js.
const util = require('./lib/util');
const again = require('./lib/util.js');
const data = require('./data.json');
const lib = require('./lib');
const a = require('./lib/a');

const refused = {};
for (const id of ['../escape', '../escape.js', './lib/../../escape', '/etc/passwd', 'fs', './notes.txt', './missing', './lib/broken']) {
  try {
    require(id);
    refused[id] = 'loaded';
  } catch (e) {
    refused[id] = e.code;
  }
}

on('*', async () => {
  await fakechat.slow({
    tag: JSON.stringify({
      greet: util.greet('ann'),
      cached: util === again,
      data,
      lib: lib.name,
      cycle: a.fromB,
      filename: __filename,
      dirname: __dirname,
      utilFile: util.file,
      refused,
    }),
  });
});
