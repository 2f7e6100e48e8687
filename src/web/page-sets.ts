/**
 * Which listings a status server offers. nodepoold shows the whole pool;
 * nodepool-builder only what it makes, builds and uploads, so that a builder
 * on another host can be watched without it claiming to know the nodes.
 */
import type { ListingName } from './listing-pages.js';

export const NODEPOOLD_LISTINGS: readonly ListingName[] = ['node-list', 'image-list', 'dib-image-list', 'label-list', 'provider-list', 'daemon-list'];

export const BUILDER_LISTINGS: readonly ListingName[] = ['image-list', 'dib-image-list'];
