/** Webpack resolves `require` at build time (used for package.json's version). */
declare function require(path: string): unknown;
