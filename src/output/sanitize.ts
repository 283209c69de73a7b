// Terminal safety for everything printed for people. Device names, server messages, file names
// and YAML keys come from strangers, and a terminal obeys what it is sent: ESC sequences clear
// the screen, set the window title or write the clipboard; CR and bidi overrides make a line
// read differently from what it holds. So every human-readable output shows control characters
// as visible escapes (as gh does); `-o json|yaml|csv` never pass through here and stay exact.
//
// Two strengths:
// - sanitize(): one value inside a line (a table cell, a device name in a prompt, a file name):
//   newlines and tabs are escaped too, so a value can never start a line of its own.
// - sanitizeMessage(): a whole message that emmctl wrote itself around such values: its own
//   line breaks stay, and on a colour terminal the colour codes emmctl adds stay.

// C0, DEL, C1; the line and paragraph separators; every format character (General Category Cf:
// bidi marks and overrides, zero-width space/joiners, BOM, word joiner, invisible operators, soft
// hyphen, interlinear annotation, tags); the Hangul fillers (letters that draw nothing); the whole
// tag block. All of them make text read differently from what it holds, so none reach the screen raw.
const CONTROL_CLASS = '[\\u0000-\\u001f\\u007f-\\u009f\\u2028\\u2029\\p{Cf}\\u115f\\u1160\\u3164\\uffa0\\u{e0000}-\\u{e007f}]';
const CONTROL = new RegExp(CONTROL_CLASS, 'gu');
const CONTROL_TEST = new RegExp(CONTROL_CLASS, 'u');
// A zero-width joiner inside an emoji sequence (👩‍💻) is kept: it joins two pictographs
// (the first possibly with a skin-tone modifier or emoji presentation selector).
const BEFORE_JOIN = /[\p{Extended_Pictographic}\p{Emoji_Modifier}\ufe0f]$/u;
const AFTER_JOIN = /^\p{Extended_Pictographic}/u;
function joinsEmoji(text: string, at: number): boolean {
  return text[at] === '\u200d' && BEFORE_JOIN.test(text.slice(Math.max(0, at - 2), at)) && AFTER_JOIN.test(text.slice(at + 1, at + 3));
}

// The SGR codes chalk emits for the styles emmctl uses (reset, bold, dim, italic, underline,
// foreground/background colours), one parameter each: they change colour, never the screen,
// the cursor or the title, and not "conceal" (8), which would hide text.
const OWN_COLOR = /\x1b\[(?:[0-4]|2[2-4]|3[0-9]|4[0-9]|9[0-7]|10[0-7])m/y;

// The C escapes people know (the issue reports wrote `\e[2J`, `\a`); the rest as \xHH / \uHHHH.
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t', '\x1b': '\\e', '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\v': '\\v' };

/** The visible form of one control character: `\n`, `\e`, `\x00`, `\u202e`. */
export function escapeControl(ch: string): string {
  const named = NAMED[ch];
  if (named) return named;
  const code = ch.codePointAt(0)!;
  if (code <= 0xff) return `\\x${code.toString(16).padStart(2, '0')}`;
  return code <= 0xffff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\u{${code.toString(16)}}`;
}

/** One value for a line of terminal text: every control character (newlines too) escaped. */
export function sanitize(text: string): string {
  return CONTROL_TEST.test(text) ? text.replace(CONTROL, (ch: string, at: number) => (joinsEmoji(text, at) ? ch : escapeControl(ch))) : text;
}

/**
 * A message for people: control characters escaped, except its line breaks and tabs, and, when
 * `keepColor`, the colour codes emmctl adds (see OWN_COLOR).
 */
export function sanitizeMessage(text: string, opts: { keepColor?: boolean } = {}): string {
  if (!CONTROL_TEST.test(text)) return text;
  let out = '';
  let start = 0;
  CONTROL.lastIndex = 0;
  for (let m = CONTROL.exec(text); m; m = CONTROL.exec(text)) {
    const ch = m[0];
    const at = m.index;
    if (ch === '\n' || ch === '\t' || joinsEmoji(text, at)) continue;
    if (ch === '\x1b' && opts.keepColor) {
      OWN_COLOR.lastIndex = at;
      const sgr = OWN_COLOR.exec(text);
      if (sgr) {
        CONTROL.lastIndex = at + sgr[0].length;
        continue;
      }
    }
    out += text.slice(start, at) + escapeControl(ch);
    start = at + ch.length;
  }
  return out + text.slice(start);
}
