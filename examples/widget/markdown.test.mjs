// The markdown renderer (the bundle `npm run build` makes of markdown.ts) in a DOM from
// happy-dom, on the messages in tests/fixtures/widget-markdown/: `md` exactly as the project's
// GraphQL API answers it through the shipped fragment (tests/widget_markdown_cases.py).
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { describe, test } from "node:test";
import { Window } from "happy-dom";

const BUNDLE = new URL("./dist/markdown.js", import.meta.url);
assert.ok(existsSync(BUNDLE), "run `npm run build` first: the test renders with the bundle");
const { MAX_DEPTH, RENDERED_TYPES, renderMarkdown } = await import(BUNDLE.href);

const ROOT = new URL("../../", import.meta.url);
const FIXTURES = new URL("tests/fixtures/widget-markdown/", ROOT);
const MEMBERS = JSON.parse(
  readFileSync(new URL("schema/possibleTypes.json", ROOT), "utf8"),
).MarkdownNode;
const CASES = Object.fromEntries(
  readdirSync(FIXTURES)
    .filter((name) => name.endsWith(".json"))
    .map((name) => [name.slice(0, -5), JSON.parse(readFileSync(new URL(name, FIXTURES), "utf8"))]),
);

// <t:1700000000:R> read three days later, in English, in UTC.
const NOW = Date.UTC(2023, 10, 17, 22, 13, 20);
const { document } = new Window();

function render(md, options = {}) {
  const host = document.createElement("div");
  host.appendChild(
    renderMarkdown(md, { document, locale: "en-US", timeZone: "UTC", now: () => NOW, ...options }),
  );
  return host;
}

function renderCase(name, options = {}) {
  const { msg, md } = CASES[name];
  return render(md, { msg, ...options });
}

function typenames(tree) {
  const found = new Set();
  const stack = [tree];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) stack.push(...value);
    else if (value && typeof value === "object") {
      if (typeof value.__typename === "string") found.add(value.__typename);
      for (const key of ["children", "label", "header", "rows"]) {
        if (value[key]) stack.push(value[key]);
      }
    }
  }
  return found;
}

// What each message becomes, exactly, in en-US and UTC three days after its timestamps; the
// browser test (tests/test_widget_markdown.py) holds Chromium to the same.
const EXPECTED = JSON.parse(
  readFileSync(new URL("tests/fixtures/widget-markdown-rendered.json", ROOT), "utf8"),
);

describe("every member of the schema's MarkdownNode union", () => {
  test("has a renderer, and no renderer is for a type the schema lacks", () => {
    assert.deepEqual([...RENDERED_TYPES].sort(), [...MEMBERS].sort());
  });

  test("is in at least one message the API answered", () => {
    const seen = new Set(Object.values(CASES).flatMap(({ md }) => [...typenames(md)]));
    assert.deepEqual(
      MEMBERS.filter((member) => !seen.has(member)),
      [],
    );
  });

  test("every fixture message has its expected DOM here", () => {
    const elsewhere = new Set(["emoticons", "hostile-nesting"]);
    const unchecked = Object.keys(CASES).filter(
      (name) => !(name in EXPECTED) && !elsewhere.has(name),
    );
    assert.deepEqual(unchecked, []);
  });
});

describe("each message renders to semantic HTML", () => {
  for (const [name, html] of Object.entries(EXPECTED)) {
    test(name, () => {
      assert.equal(renderCase(name).innerHTML, html);
    });
  }
});

describe("emoji", () => {
  test("every Emoji the API sends is drawn as its character, each emoticon of the parser too", () => {
    for (const [name, { msg, md }] of Object.entries(CASES)) {
      if (name === "unknown-shortcode") continue;
      const emoji = JSON.stringify(md).match(/"__typename":"Emoji"/g) ?? [];
      const drawn = [...render(md, { msg }).querySelectorAll(".md-emoji")];
      assert.equal(drawn.length, emoji.length, name);
      for (const span of drawn) assert.doesNotMatch(span.textContent, /^$|^:|[\x00-\x7f]/, name);
    }
    const faces = render(CASES.emoticons.md).querySelectorAll(".md-emoji");
    const byEmoticon = Object.fromEntries([...faces].map((span) => [span.title, span.textContent]));
    assert.equal(byEmoticon["(y)"], "👍");
    assert.equal(byEmoticon["<3"], "❤\uFE0F");
    assert.equal(byEmoticon[":D"], "😃");
  });
});

describe("hostile messages", () => {
  test("no message makes a script, a handler attribute, or a link or image off http(s)/mailto", () => {
    for (const name of Object.keys(CASES)) {
      const host = renderCase(name);
      assert.equal(host.querySelectorAll("script, iframe, object, embed, style").length, 0, name);
      for (const element of host.querySelectorAll("*")) {
        for (const { name: attribute } of element.attributes) {
          assert.ok(!attribute.toLowerCase().startsWith("on"), `${name}: ${attribute}`);
        }
      }
      for (const anchor of host.querySelectorAll("a")) {
        assert.match(anchor.getAttribute("href"), /^(https?:\/\/|mailto:)/, name);
        assert.equal(anchor.getAttribute("rel"), "noopener noreferrer", name);
      }
      for (const image of host.querySelectorAll("img")) {
        assert.match(image.getAttribute("src"), /^https?:\/\//, name);
      }
    }
  });

  test("the parser's deepest nesting renders whole, and as text below maxDepth", () => {
    const { msg, md } = CASES["hostile-nesting"];
    const full = render(md, { msg });
    assert.ok(full.querySelector("blockquote strong, blockquote em, blockquote del"));
    assert.ok(full.textContent.includes("deep"));
    const capped = render(md, { msg, maxDepth: 3 });
    assert.ok(capped.querySelectorAll(".md-too-deep").length > 0);
    assert.equal(capped.textContent, full.textContent);
    const inline = ["paragraph-bold-emoji", "mentions", "color", "emoticons", "links", "quote"];
    for (const name of inline) {
      const { msg, md } = CASES[name];
      const flat = render(md, { msg, maxDepth: 1 });
      assert.ok(flat.querySelector(".md-too-deep"), name);
      assert.equal(flat.textContent, render(md, { msg }).textContent, name);
    }
  });

  test("a hundred thousand nested levels neither overflow the stack nor build a deep DOM", () => {
    let tree = { __typename: "PlainText", text: "bottom" };
    for (let level = 0; level < 100_000; level += 1) {
      tree = { __typename: level % 2 ? "Bold" : "Italic", children: [tree] };
    }
    const host = render([{ __typename: "Paragraph", children: [tree] }]);
    assert.equal(host.textContent, "bottom");
    let depth = 0;
    for (
      let node = host.querySelector(".md-too-deep");
      node && node !== host;
      node = node.parentNode
    ) {
      depth += 1;
    }
    assert.equal(depth, MAX_DEPTH + 1);
  });

  test("a tree cut off by the fragment's depth falls back to the message's text", () => {
    const { msg, md } = CASES["paragraph-bold-emoji"];
    const cut = JSON.parse(JSON.stringify(md));
    delete cut[0].children[1].children; // what the fragment's tenth level delivers: no lists
    assert.equal(
      render(cut, { msg }).innerHTML,
      '<p class="md-source">Hello **world** :smile:</p>',
    );
  });

  test("a member newer than this renderer shows its text", () => {
    const host = render([{ __typename: "Poll", type: "POLL", question: "lunch?" }]);
    assert.equal(host.innerHTML, '<span class="md-unknown">lunch?</span>');
  });
});

describe("timestamps follow the visitor's locale and time zone", () => {
  test("German, in Berlin", () => {
    const host = renderCase("timestamps", { locale: "de-DE", timeZone: "Europe/Berlin" });
    const shown = [...host.querySelectorAll("time")].map((time) => time.textContent);
    assert.deepEqual(shown, [
      "23:13",
      "14. November 2023",
      "14. November 2023 um 23:13",
      "vor 3 Tagen",
    ]);
  });
});
