// qrcode-terminal ships no types; this is the one function emmctl uses.
declare module 'qrcode-terminal' {
  const qrcode: { generate(text: string, opts: { small?: boolean }, callback: (code: string) => void): void };
  export default qrcode;
}
