/**
 * Rocket.Chat's "change department" during a chat: offered when the config allows switching
 * and more than one department is shown on registration; a choice transfers the open room.
 */

import type { Config } from "../config.js";
import { h } from "./dom.js";

export function departmentSwitch(
  config: Config,
  transfer: (department: string) => Promise<void>,
  failed: (error: unknown) => void,
): HTMLElement | undefined {
  const offered = config.departments.filter((department) => department.showOnRegistration);
  if (config.settings?.allowSwitchingDepartments !== true || offered.length < 2) return undefined;
  const select = h(
    "select",
    { name: "switch-department", "aria-label": "Department", "data-department": true },
    h("option", { value: "" }, "Change department"),
    ...offered.map((department) => h("option", { value: department.id }, department.name)),
  );
  select.addEventListener("change", () => {
    const chosen = select.value;
    if (chosen === "") return;
    select.disabled = true;
    transfer(chosen)
      .catch(failed)
      .finally(() => {
        select.disabled = false;
        select.value = "";
      });
  });
  return select;
}
