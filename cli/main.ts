import { main } from './program.js';

const status = await main(process.argv);
// A command that went through ends when its work does (a live view may wait for Ctrl-C).
if (status !== null) process.exit(status);
