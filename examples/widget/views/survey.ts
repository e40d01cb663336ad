/**
 * The satisfaction survey after a chat: one row of ratings per item of the config's survey
 * (Rocket.Chat's values, "1".."5"), and free text as `additionalFeedback`; it is sent once.
 */

import type { Config } from "../config.js";
import { h, showError } from "./dom.js";

export interface SurveyAnswer {
  readonly name: string;
  readonly value: string;
}

/** Rocket.Chat's item names, in words (an unknown item shows its name). */
const LABELS: Record<string, string> = {
  satisfaction: "Overall satisfaction",
  agentKnowledge: "Agent's knowledge",
  agentResposiveness: "Agent's responsiveness",
  agentFriendliness: "Agent's friendliness",
};

export function surveyView(
  survey: NonNullable<Config["survey"]>,
  rate: (answers: SurveyAnswer[]) => Promise<void>,
): HTMLElement {
  const groups = survey.items.map((item) => {
    const choices = survey.values.map((value) =>
      h(
        "label",
        { class: "choice" },
        h("input", { type: "radio", name: `survey-${item}`, value }),
        value,
      ),
    );
    return { item, fieldset: h("fieldset", {}, h("legend", {}, LABELS[item] ?? item), ...choices) };
  });
  const feedback = h("textarea", { name: "additionalFeedback", rows: "2" });
  const button = h("button", { type: "submit" }, "Send rating");
  const alert = h("p", { role: "alert", class: "error" });
  const form = h(
    "form",
    { class: "survey", "data-survey": true },
    h("h3", {}, "How was this chat?"),
    ...groups.map(({ fieldset }) => fieldset),
    h("label", {}, "Anything else?", feedback),
    alert,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const answers: SurveyAnswer[] = groups.flatMap(({ item, fieldset }) => {
      const chosen = fieldset.querySelector<HTMLInputElement>("input:checked");
      return chosen === null ? [] : [{ name: item, value: chosen.value }];
    });
    const text = feedback.value.trim();
    if (text !== "") answers.push({ name: "additionalFeedback", value: text });
    if (answers.length === 0) {
      alert.textContent = "Choose a rating first.";
      return;
    }
    button.disabled = true;
    alert.textContent = "";
    rate(answers)
      .then(() =>
        form.replaceChildren(h("p", { "data-rated": true }, "Thank you for your feedback!")),
      )
      .catch((error: unknown) => {
        button.disabled = false;
        showError(alert, error);
      });
  });
  return form;
}
