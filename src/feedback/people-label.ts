/**
 * The people's label of a judged prediction, from its ✅ / ❌ votes — one rule for everything that reads votes
 * (the export for training, production accuracy, the misclassification alert, the challenger's comparison):
 * 1. each ✅ is a vote for the model's label, each ❌ a vote against it, whether or not it names a label.
 *    More ✅ than ❌: the model's label. As many: a tie.
 * 2. more ❌ than ✅: not the model's label; the label is the one most ❌ name. A ❌ naming no label chose no
 *    other: when no label is named more often than every other one, the label is undecided.
 */
import type { JudgmentVote } from '../store/types';
import { LABELS, type Label } from '../sentiment/types';

export type PeopleVerdict = { label: Label } | { undecided: 'tie' | 'no_label_named' };

/** The people's label of a prediction the model labelled `modelLabel`, from its votes (rules above). */
export function peopleLabel(
  modelLabel: Label,
  votes: ReadonlyArray<Pick<JudgmentVote, 'correct' | 'trueLabel'>>,
): PeopleVerdict {
  const correct = votes.filter((v) => v.correct).length;
  const wrong = votes.length - correct;
  if (correct > wrong) return { label: modelLabel };
  if (correct === wrong) return { undecided: 'tie' };
  const named = new Map<Label, number>();
  for (const v of votes) {
    if (!v.correct && v.trueLabel !== undefined && v.trueLabel !== modelLabel)
      named.set(v.trueLabel, (named.get(v.trueLabel) ?? 0) + 1);
  }
  const ranked = LABELS.filter((l) => l !== modelLabel)
    .map((l) => ({ l, n: named.get(l) ?? 0 }))
    .sort((a, b) => b.n - a.n);
  if (ranked[0].n === 0) return { undecided: 'no_label_named' };
  if (ranked.length > 1 && ranked[1].n === ranked[0].n) return { undecided: 'tie' };
  return { label: ranked[0].l };
}
