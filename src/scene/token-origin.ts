/**
 * Which tokens of a map are the user's own words and which were continued (the explorer's
 * sentence continued with generated corpus text up to seqLen; the model's sentence after
 * `<eos>`, extended with corpus sentences), and how an axis label shows it. Pure: the labels
 * (labels.ts) and the hover readout (src/ui/hover.ts) both ask here, so they agree.
 */

/**
 * The user's words among a map's tokens: indices `from` ≤ i < `to`. Tokens from `to` on were
 * continued; tokens before `from` are neither (the model's leading `<eos>`).
 */
export interface UserTokens {
  from: number;
  to: number;
}

/** Where a token came from. */
export type TokenOrigin = 'yours' | 'continued';

/** The origin of token `index` of `length` tokens, or null without a user span (or for a token before it, or past the end). */
export function tokenOrigin(index: number, user: UserTokens | null | undefined, length: number): TokenOrigin | null {
  if (!user || index < user.from || index >= length) return null;
  return index < user.to ? 'yours' : 'continued';
}

/** How a token label is drawn (the text style of src/scene/label-textures.ts). */
export interface TokenLabelStyle {
  bold?: boolean;
  color?: string;
}

/** The user's words: bold, in a light shade of the page's accent green (readable over the surface). */
export const YOURS_STYLE: Readonly<TokenLabelStyle> = { bold: true, color: '#7ee2ad' };
/** Continued text: plain and dimmer than an unmarked label (#e8e8ee). */
export const CONTINUED_STYLE: Readonly<TokenLabelStyle> = { color: '#9598a6' };

/** The label style of a token of this origin; an unmarked token keeps the default style. */
export function tokenLabelStyle(origin: TokenOrigin | null | undefined): TokenLabelStyle {
  if (origin === 'yours') return { ...YOURS_STYLE };
  if (origin === 'continued') return { ...CONTINUED_STYLE };
  return {};
}
