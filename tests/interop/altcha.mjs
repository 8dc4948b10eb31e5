// Interop driver: the npm `altcha-lib` (software nobody here wrote), through its `altcha-lib/v1`
// API (the SHA-256 proof of work of the ALTCHA widget v1/v2), solves our challenges, makes its
// own, and verifies our payloads.
//
//   node altcha.mjs solve <challenge.json>                        -> {number, took, payload}
//   node altcha.mjs create <hmac-key-hex> [expires-in-secs|none] [maxnumber]
//                                                                  -> {challenge, number, payload, self_verified}
//   node altcha.mjs verify <hmac-key-hex> <payload>               -> {verified, params}
//
// The HMAC key is given as hex of its bytes; altcha-lib keys its HMAC with the UTF-8 bytes of a
// string, so the bytes must be UTF-8 text (the driver refuses others). Payloads are built exactly
// as the widget builds them: btoa(JSON.stringify({algorithm, challenge, number, salt, signature,
// took})). Results are printed as one JSON document on stdout; the Rust test makes every assertion.
import { readFileSync } from 'node:fs';
import { createChallenge, extractParams, solveChallenge, verifySolution } from 'altcha-lib/v1';

function keyFromHex(hex) {
  const bytes = Buffer.from(hex ?? '', 'hex');
  const text = bytes.toString('utf8');
  if (bytes.length === 0 || !Buffer.from(text, 'utf8').equals(bytes)) {
    throw new Error('the HMAC key must be non-empty hex of UTF-8 text');
  }
  return text;
}

function widgetPayload(challenge, solution) {
  return btoa(
    JSON.stringify({
      algorithm: challenge.algorithm,
      challenge: challenge.challenge,
      number: solution.number,
      salt: challenge.salt,
      signature: challenge.signature,
      took: solution.took,
    }),
  );
}

async function solve(challenge) {
  const { promise } = solveChallenge(
    challenge.challenge,
    challenge.salt,
    challenge.algorithm,
    challenge.maxnumber,
  );
  const solution = await promise;
  if (!solution) throw new Error('altcha-lib found no solution');
  return { number: solution.number, took: solution.took, payload: widgetPayload(challenge, solution) };
}

async function create(keyHex, expiresIn = '600', maxnumber = '50000') {
  const hmacKey = keyFromHex(keyHex);
  const options = { hmacKey, maxnumber: Number(maxnumber) };
  if (expiresIn !== 'none') {
    options.expires = new Date(Date.now() + Number(expiresIn) * 1000);
  }
  const challenge = await createChallenge(options);
  const solved = await solve(challenge);
  // Sanity: altcha-lib accepts its own solution (expiry not checked, it may be in the past).
  const selfVerified = await verifySolution(solved.payload, hmacKey, false);
  return { challenge, number: solved.number, payload: solved.payload, self_verified: selfVerified };
}

async function verify(keyHex, payload) {
  const hmacKey = keyFromHex(keyHex);
  // The JSON text itself is handed over as the parsed object, as a server would after parsing.
  const input = payload.trimStart().startsWith('{') ? JSON.parse(payload) : payload;
  let params = null;
  try {
    params = extractParams(input);
  } catch {
    // garbage: reported as null
  }
  return { verified: await verifySolution(input, hmacKey, true), params };
}

const [mode, ...args] = process.argv.slice(2);
let out;
if (mode === 'solve') {
  out = await solve(JSON.parse(readFileSync(args[0], 'utf8')));
} else if (mode === 'create') {
  out = await create(...args);
} else if (mode === 'verify') {
  out = await verify(args[0], args[1]);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
process.stdout.write(JSON.stringify(out));
