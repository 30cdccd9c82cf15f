// Jest's stand-in for esbuild's `text` loader: a .sh, .py or .svg file is a module whose
// default export is its text, byte for byte.
module.exports = {
  process(source) {
    return {
      code: `exports.__esModule = true;\nexports.default = ${JSON.stringify(source)};\n`
    };
  }
};
