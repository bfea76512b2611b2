/** The gateway on remote VoIPBIN calls: the session manager and its control API. */
export * from './sessions.js';
export { registerGatewayRoutes } from './routes.js';
