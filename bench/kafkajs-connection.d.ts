/** kafkajs's broker connection, as bench/kafka-requests.ts counts the requests sent through it. */
declare module "kafkajs/src/network/connection.js" {
  export default class Connection {
    clientId: string;
    send(args: { request: { apiName: string } }): Promise<unknown>;
  }
}
