// An identity provider for the tests, on panva/jose (an independent JWT
// library), so our verifier is checked against tokens it did not make.
//
//   node idp.mjs keys DIR NAME [ALG...]
//       one private key per ALG (all we verify when none is given) into
//       DIR/NAME.private.json, and DIR/NAME.jwks.json: their public halves
//       with kid "NAME-ALG", plus keys we cannot use (an RSA-OAEP
//       encryption key, an X25519 key, an Ed448 key)
//   node idp.mjs sign DIR NAME ALG KID|- PAYLOAD
//       a token signed with NAME's ALG key; "-" sends no kid

import { readFileSync, writeFileSync } from 'node:fs';
import { exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';

const ALL = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
             'ES256', 'ES384', 'ES512', 'EdDSA'];

async function keys(dir, name, algs) {
    const priv = {}, pub = [];

    for (const alg of algs.length ? algs : ALL) {
        const kid = `${name}-${alg}`;
        const kp = await generateKeyPair(alg, alg === 'EdDSA'
                                         ? { extractable: true,
                                             crv: 'Ed25519' }
                                         : { extractable: true });
        priv[alg] = { ...(await exportJWK(kp.privateKey)), kid, alg };
        pub.push({ ...(await exportJWK(kp.publicKey)), kid, alg,
                   use: 'sig' });
    }

    const enc = await generateKeyPair('RSA-OAEP', { extractable: true });
    pub.push({ ...(await exportJWK(enc.publicKey)), kid: `${name}-oaep`,
               alg: 'RSA-OAEP', use: 'enc' });

    const x = await generateKeyPair('ECDH-ES', { crv: 'X25519',
                                                 extractable: true });
    pub.push({ ...(await exportJWK(x.publicKey)), kid: `${name}-x25519` });

    const ed448 = await generateKeyPair('EdDSA', { crv: 'Ed448',
                                                   extractable: true })
                      .catch(() => null);
    if (ed448) {
        pub.push({ ...(await exportJWK(ed448.publicKey)),
                   kid: `${name}-ed448`, alg: 'EdDSA' });
    }

    writeFileSync(`${dir}/${name}.private.json`, JSON.stringify(priv));
    writeFileSync(`${dir}/${name}.jwks.json`,
                  JSON.stringify({ keys: pub }, null, 1) + '\n');
}

async function sign(dir, name, alg, kid, payload) {
    const priv = JSON.parse(readFileSync(`${dir}/${name}.private.json`));
    const jwk = priv[alg];
    if (!jwk) {
        throw new Error(`${name} has no ${alg} key`);
    }

    const header = { alg, typ: 'JWT' };
    if (kid !== '-') {
        header.kid = kid;
    }

    const key = await importJWK(jwk, alg);
    const tok = await new SignJWT(JSON.parse(payload))
        .setProtectedHeader(header).sign(key);
    process.stdout.write(tok + '\n');
}

const [cmd, ...args] = process.argv.slice(2);

if (cmd === 'keys' && args.length >= 2) {
    await keys(args[0], args[1], args.slice(2));
} else if (cmd === 'sign' && args.length === 5) {
    await sign(...args);
} else {
    process.stderr.write('usage: idp.mjs keys DIR NAME [ALG...] | '
                         + 'idp.mjs sign DIR NAME ALG KID|- PAYLOAD\n');
    process.exit(2);
}
