// The widget's bundle, dist/ (or the folder given: `npm run build -- OUTDIR`): esbuild with one plugin, which loads an operation file of
// queries/ as its text plus the fragments it spreads (and only those), so the widget sends
// exactly the shipped documents and the server never sees an unused fragment.
import { copyFile, mkdir, readFile, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

import * as esbuild from "esbuild";
import { parse, print, visit } from "graphql";

const QUERIES = new URL("../../queries/", import.meta.url).pathname;
const DIST = process.argv[2] ?? new URL("dist/", import.meta.url).pathname;

async function fragments() {
  const found = new Map();
  const folder = join(QUERIES, "fragments");
  for (const name of await readdir(folder)) {
    for (const definition of parse(await readFile(join(folder, name), "utf8")).definitions) {
      found.set(definition.name.value, definition);
    }
  }
  return found;
}

/** `import document from "../../queries/x.graphql"`: the document's text, fragments included. */
const graphqlDocuments = {
  name: "graphql-documents",
  setup(build) {
    let known;
    build.onLoad({ filter: /\.graphql$/ }, async ({ path }) => {
      known ??= await fragments();
      const document = parse(await readFile(path, "utf8"));
      const needed = new Map();
      const pending = [document];
      while (pending.length) {
        visit(pending.pop(), {
          FragmentSpread(node) {
            const name = node.name.value;
            if (!needed.has(name)) {
              if (!known.has(name)) throw new Error(`${path}: no fragment ${name} in queries/`);
              needed.set(name, known.get(name));
              pending.push(known.get(name));
            }
          },
        });
      }
      const text = print({
        ...document,
        definitions: [...document.definitions, ...needed.values()],
      });
      return { contents: `export default ${JSON.stringify(text)};`, loader: "js" };
    });
  },
};

await mkdir(DIST, { recursive: true });
const result = await esbuild.build({
  entryPoints: ["main.ts", "widget.css", "markdown.ts", "markdown.css"],
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  outdir: DIST,
  metafile: true,
  logLevel: "warning",
  plugins: [graphqlDocuments],
  define: { "globalThis.__DEV__": "false" },
});
await writeFile(join(DIST, "meta.json"), JSON.stringify(result.metafile));
await copyFile(new URL("index.html", import.meta.url), join(DIST, "index.html"));
