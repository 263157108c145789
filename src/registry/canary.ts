/**
 * The canary set: twelve labelled tweets shipped in every manifest with the probabilities the model
 * gave them when the manifest was written (`npm run train`, `model:card`, `model:seal`,
 * `model:import`). After every load the model scores them again and must give the same probabilities,
 * within CANARY_TOLERANCE, or it is refused: a model whose weights, vocabulary or tokeniser differ from
 * the ones sealed (a tampered file re-hashed into the manifest, a vocabulary from another model, a code
 * change that alters scoring) never serves.
 *
 * The texts are taken verbatim from the training split (test/fixtures/airline_train.csv, a copy of
 * ../shared/data/airline_train.csv; tweet ids below), four per human label, never from the validation
 * split. (airline_stream.csv holds every tweet of the data set, the training ones included, so these
 * texts are in it too; nothing is evaluated on them.) They cover what the normaliser does: an emoji,
 * HTML entities, a URL, numbers and times, the data set's "Cancelled Flightled" artefact, shouting,
 * elongation, a hashtag; and some the model gets wrong or nearly ties on, which move first when the
 * weights change.
 */
import type { Label, Scorer } from '../sentiment/types';
import type { CanaryEntry } from './manifest';

export const CANARY_SET: ReadonlyArray<{ tweetId: string; label: Label; text: string }> = [
  { tweetId: '569105159764242433', label: 'negative', text: '@united never fails to have delayed flights 😡' },
  {
    tweetId: '567786475262345216',
    label: 'negative',
    text: "@united Our flight was originally supposed to leave at 1:40pm &amp; now we won't leave until 5. This is the 2nd time this has happened",
  },
  {
    tweetId: '569686478046887937',
    label: 'negative',
    text: "@AmericanAir my wife's flight is Cancelled Flightled, told to call. No one answers. How do we book a flight? Help us please",
  },
  {
    tweetId: '569509520034156544',
    label: 'negative',
    text: "@USAirways Thank you glad to be home. There were lots of delays with the plane and flight crew didn't show up. It was very frustrating.",
  },
  { tweetId: '569655392931876864', label: 'neutral', text: '@AmericanAir Here you go https://t.co/oM1vIEg74a' },
  {
    tweetId: '569628053648904195',
    label: 'neutral',
    text: '@JetBlue I have a disabled seat in row 6 do I get to board earlier?',
  },
  {
    tweetId: '570279812922789888',
    label: 'neutral',
    text: '@SouthwestAir my flight at BWI is delayed and I will miss my flight in Denver, is there a way to find out if they will hold the plane?',
  },
  {
    tweetId: '569975155964772352',
    label: 'neutral',
    text: '@SouthwestAir that was supposed to say "boo" not book. booo.',
  },
  {
    tweetId: '570119853312311296',
    label: 'positive',
    text: '@usairways great crew for flight 504 PHX to YVR tonight! Friendly, efficient. Awesome job.',
  },
  { tweetId: '567862754557759488', label: 'positive', text: '@JetBlue is definitely my new favorite airline.' },
  {
    tweetId: '569610824647626752',
    label: 'positive',
    text: "@united Thx, just DM'd. Conf #'s MQXC64 &amp; MPWNC2. Any help appreciated",
  },
  {
    tweetId: '569890741666717697',
    label: 'positive',
    text: '@AmericanAir thank you for NOT Cancelled Flighting all flights and putting my husbands life in danger driving in this weather. #safetyfirst',
  },
];

/**
 * Largest difference allowed between a recorded and a re-scored probability. Measured on the shipped
 * model (400 training tweets): wasm and cpu, fused and generic (model.predict) paths all agree to 1e-6,
 * the rounding of a prediction; 1e-3 leaves room for the native backend's kernels and nothing for a
 * different model.
 */
export const CANARY_TOLERANCE = 1e-3;

/** The canary set scored by `scorer`: what a manifest records. */
export async function recordCanary(scorer: Pick<Scorer, 'score'>): Promise<CanaryEntry[]> {
  const predictions = await scorer.score(CANARY_SET.map((c) => c.text));
  return CANARY_SET.map((c, i) => ({ text: c.text, label: c.label, probabilities: predictions[i].probabilities }));
}

/**
 * Scores the manifest's canary texts with `scorer`; throws "canary mismatch: …" (naming `where`, the
 * worst text and the figures) when a probability differs from the recorded one by more than `tolerance`.
 */
export async function checkCanary(
  scorer: Pick<Scorer, 'score'>,
  canary: readonly CanaryEntry[],
  where: string,
  tolerance = CANARY_TOLERANCE,
): Promise<void> {
  const predictions = await scorer.score(canary.map((c) => c.text));
  let worst = { diff: -1, index: -1, label: 'negative' as Label };
  let off = 0;
  canary.forEach((c, i) => {
    let rowOff = false;
    for (const label of Object.keys(c.probabilities) as Label[]) {
      const diff = Math.abs(predictions[i].probabilities[label] - c.probabilities[label]);
      // NaN (a model whose weights overflow) is a mismatch too.
      if (!(diff <= tolerance)) rowOff = true;
      if (!(diff <= worst.diff)) worst = { diff: Number.isNaN(diff) ? Infinity : diff, index: i, label };
    }
    if (rowOff) off++;
  });
  if (off === 0) return;
  const c = canary[worst.index];
  const got = predictions[worst.index].probabilities[worst.label];
  const text = c.text.length > 60 ? `${c.text.slice(0, 57)}…` : c.text;
  throw new Error(
    `canary mismatch: ${where}: ${off} of ${canary.length} canary texts are not scored as recorded in manifest.json ` +
      `(worst: ${JSON.stringify(text)}, P(${worst.label}) ${fmt(got)} now, ${fmt(c.probabilities[worst.label])} recorded; ` +
      `tolerance ${tolerance}): the weights, vocabulary or tokeniser are not the ones the manifest was sealed with`,
  );
}

function fmt(p: number): string {
  return Number.isFinite(p) ? p.toFixed(4) : String(p);
}
