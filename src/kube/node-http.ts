/**
 * node:http and node:https for the ES modules of the API client, loaded with require(). An ES module import of
 * node:http builds its module namespace from every export, and three of them (WebSocket, CloseEvent, MessageEvent) are
 * getters that load Node's bundled undici: ~9 MiB of RSS for a fetch and WebSocket client nothing here uses. require()
 * leaves the getters alone.
 */
import type * as Http from 'node:http';
import type * as Https from 'node:https';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const http = require('node:http') as typeof Http;
export const https = require('node:https') as typeof Https;
