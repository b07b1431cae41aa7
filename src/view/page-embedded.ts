/**
 * The page's files embedded as strings into the compiled executable; imported only when
 * running compiled (page-assets.ts). scripts/build.ts writes dist/view/ before compiling.
 */
import js from "../../dist/view/app.bundle" with { type: "text" };
import css from "../../dist/view/style.bundle" with { type: "text" };
import html from "../../dist/view/index.bundle" with { type: "text" };

export const embeddedPage = { html, js, css };
