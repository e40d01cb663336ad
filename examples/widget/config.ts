/**
 * Rocket.Chat's first call, `GET livechat/config` with the visitor's token, as the API's
 * `livechatConfig`: whether Livechat is on, whether anyone is online, which form to show, the
 * theme, the survey, and (for a returning visitor) who they are and their open room.
 *
 * The custom fields a registration form asks for are not typed in the schema: Rocket.Chat puts
 * them in the config object itself (`customFields`), which the API passes through as `raw`.
 */

import type { Connection } from "./client.js";
import { type Config, LivechatConfig, LivechatVisitor } from "./documents.js";
import { success } from "./errors.js";

export type { Config };

/** One of Rocket.Chat's custom field definitions, as its config object lists them. */
export interface CustomFieldDefinition {
  readonly key: string;
  readonly label: string;
  readonly regexp: string;
  readonly required: boolean;
}

/** The config for `token`, read from the server each time (never Apollo's cache). */
export async function loadConfig(connection: Connection, token: string): Promise<Config> {
  const { data } = await connection.apollo.query({
    query: LivechatConfig,
    variables: { token },
    fetchPolicy: "network-only",
  });
  return success(data.livechatConfig, "LivechatConfigSuccess").config;
}

/** The visitor with `token`, or undefined when the server knows none. */
export async function loadVisitor(
  connection: Connection,
  token: string,
): Promise<{ id: string; name?: string | null; email?: string | null } | undefined> {
  const { data } = await connection.apollo.query({
    query: LivechatVisitor,
    variables: { token },
    fetchPolicy: "network-only",
  });
  const result = data.livechatVisitor;
  return result.__typename === "LivechatVisitorSuccess" ? result.visitor : undefined;
}

/** Rocket.Chat's widget shows the registration form when it is on and asks for anything. */
export function wantsRegistration(config: Config): boolean {
  const settings = config.settings;
  if (settings?.registrationForm !== true) return false;
  return (
    settings.nameFieldRegistrationForm ||
    settings.emailFieldRegistrationForm ||
    config.departments.some((department) => department.showOnRegistration) ||
    customFields(config).length > 0
  );
}

/** The custom fields of the raw config object, those a visitor may fill in. */
export function customFields(config: Config): CustomFieldDefinition[] {
  const raw = config.raw as { customFields?: unknown } | null;
  if (!Array.isArray(raw?.customFields)) return [];
  return raw.customFields.flatMap((item: unknown) => {
    if (typeof item !== "object" || item === null) return [];
    const field = item as Record<string, unknown>;
    const key = typeof field._id === "string" ? field._id : undefined;
    if (key === undefined || (field.scope !== undefined && field.scope !== "visitor")) return [];
    return [
      {
        key,
        label: typeof field.label === "string" && field.label !== "" ? field.label : key,
        regexp: typeof field.regexp === "string" ? field.regexp : "",
        required: field.required === true,
      },
    ];
  });
}
