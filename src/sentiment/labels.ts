/**
 * The label set of the sentiment model, in the order of its output units. It belongs to the model (the
 * scorer, its manifest and the predictions it makes); training reads it from here.
 */
export const LABELS = ['negative', 'neutral', 'positive'] as const;
export type Label = (typeof LABELS)[number];

export function isLabel(x: string): x is Label {
  return (LABELS as readonly string[]).includes(x);
}
