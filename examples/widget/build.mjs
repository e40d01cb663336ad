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

/**
 * `import document from "../../queries/x.graphql"`: the operation's text with the fragments it
 * spreads. Each fragment is a module of its own, so its text is in the bundle once however many
 * operations spread it (the markdown fragment is 11 kB).
 */
const graphqlDocuments = {
  name: "graphql-documents",
  setup(build) {
    let known;
    const fragment = async (name) => {
      known ??= await fragments();
      if (!known.has(name)) throw new Error(`no fragment ${name} in queries/fragments/`);
      return known.get(name);
    };
    build.onResolve({ filter: /^graphql-fragment:/ }, ({ path }) => ({
      path: path.slice("graphql-fragment:".length),
      namespace: "graphql-fragment",
    }));
    build.onLoad({ filter: /.*/, namespace: "graphql-fragment" }, async ({ path }) => ({
      contents: `export default ${JSON.stringify(print(await fragment(path)))};`,
      loader: "js",
    }));
    build.onLoad({ filter: /\.graphql$/ }, async ({ path }) => {
      const document = parse(await readFile(path, "utf8"));
      const needed = new Set();
      const pending = [document];
      while (pending.length) {
        const spreads = [];
        visit(pending.pop(), { FragmentSpread: (node) => void spreads.push(node.name.value) });
        for (const name of spreads) {
          if (!needed.has(name)) {
            needed.add(name);
            pending.push(await fragment(name));
          }
        }
      }
      const names = [...needed];
      const imports = names.map((name, i) => `import f${i} from "graphql-fragment:${name}";`);
      const parts = [JSON.stringify(print(document)), ...names.map((_, i) => `f${i}`)];
      return {
        contents: `${imports.join("\n")}\nexport default [${parts.join(", ")}].join("\\n");`,
        loader: "js",
      };
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
