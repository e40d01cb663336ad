/** The config's theme on the page: its colour as the accent, its title on top. */

import type { Config } from "./config.js";

/** Sets the accent on `root` and answers the title (offline title and colour when offline). */
export function applyTheme(root: HTMLElement, config: Config | undefined): string {
  const theme = config?.theme;
  const online = config?.online !== false;
  const color = (online ? theme?.color : theme?.offlineColor) || undefined;
  const title = (online ? theme?.title : theme?.offlineTitle) || "Livechat";
  if (color !== undefined) root.style.setProperty("--accent", color);
  document.title = title;
  return title;
}
