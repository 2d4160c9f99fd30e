#!/usr/bin/env node
// Measures the npm mailparser package over a pack from mailtriage-bench.
//
// One parse is `await simpleParser(buffer)` with the default options. It
// parses the header fields (addresses, dates, encoded words) and decodes
// the text and HTML bodies to UTF-8. It derives the text from the HTML when
// there is no text part, builds textAsHtml from the text with links turned
// into anchors, and reads every attachment into a Buffer with its MD5
// checksum.
//
// The pass rule is the one of Limits in internal/benchparse, and the JSON
// printed on stdout has the fields of its Result.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { parseArgs } = require('node:util');

let simpleParser;
try {
    ({ simpleParser } = require('mailparser'));
} catch (err) {
    console.error(`parse_mailparser.js: cannot load mailparser (${err.message}); run "npm ci" in ${__dirname}`);
    process.exit(1);
}

const work = 'simpleParser(buffer) with the default options: header fields parsed (addresses, dates, ' +
    'encoded words), text and HTML bodies decoded to UTF-8, text derived from HTML when there is no ' +
    'text part, textAsHtml built from the text with links turned into anchors, and every attachment ' +
    'read into a Buffer with its MD5 checksum';

function readPack(folder) {
    const index = JSON.parse(fs.readFileSync(path.join(folder, 'index.json'), 'utf8'));
    const data = fs.readFileSync(path.join(folder, 'messages.bin'));
    if (data.length !== index.bytes) {
        console.error(`parse_mailparser.js: invalid pack: the data file contains ${data.length} bytes, but the index lists ${index.bytes}; write the pack again`);
        process.exit(1);
    }
    const raws = index.messages.map((m) => data.subarray(m.offset, m.offset + m.size));
    return { index, raws };
}

// runPass parses every message once and returns the seconds taken and the
// number of failures.
async function runPass(raws) {
    let failed = 0;
    const start = process.hrtime.bigint();
    for (const raw of raws) {
        try {
            await simpleParser(raw);
        } catch {
            failed++;
        }
    }
    return { seconds: Number(process.hrtime.bigint() - start) / 1e9, failed };
}

function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

async function main() {
    const { values: opts } = parseArgs({
        options: {
            pack: { type: 'string' },
            'min-passes': { type: 'string', default: '3' },
            'max-passes': { type: 'string', default: '5' },
            'min-seconds': { type: 'string', default: '3' },
            'max-seconds': { type: 'string', default: '60' },
        },
    });
    const minPasses = Number(opts['min-passes']);
    const maxPasses = Number(opts['max-passes']);
    const minSeconds = Number(opts['min-seconds']);
    const maxSeconds = Number(opts['max-seconds']);
    if (!opts.pack) {
        console.error('parse_mailparser.js: missing --pack; pass the folder written by mailtriage-bench pack');
        process.exit(2);
    }
    if (!(minPasses >= 1 && maxPasses >= minPasses && maxSeconds >= minSeconds)) {
        console.error('parse_mailparser.js: need 1 <= --min-passes <= --max-passes and --min-seconds <= --max-seconds');
        process.exit(2);
    }

    const { index, raws } = readPack(opts.pack);
    const warmup = await runPass(raws);
    const passes = [];
    let elapsed = 0;
    const done = () => passes.length >= maxPasses ||
        (passes.length >= minPasses && elapsed >= minSeconds) ||
        elapsed >= maxSeconds;
    while (!done()) {
        const { seconds } = await runPass(raws);
        passes.push(seconds);
        elapsed += seconds;
    }

    const mailparserVersion = JSON.parse(
        fs.readFileSync(path.join(__dirname, 'node_modules', 'mailparser', 'package.json'), 'utf8')).version;
    const mid = median(passes);
    process.stdout.write(JSON.stringify({
        parser: 'mailparser',
        version: mailparserVersion,
        runtime: `Node.js ${process.version}`,
        work,
        pack: index.selection,
        messages: raws.length,
        bytes: index.bytes,
        failed: warmup.failed,
        warmupSeconds: warmup.seconds,
        passSeconds: passes,
        medianSeconds: mid,
        mbPerSecond: index.bytes / 1e6 / mid,
        messagesPerSecond: raws.length / mid,
    }) + '\n');
}

main().catch((err) => {
    console.error(`parse_mailparser.js: ${err.stack || err}`);
    process.exit(1);
});
