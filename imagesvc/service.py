"""The image service's state shared by all handlers: config, registry, store and writer.

It also answers the two questions every handler asks first: "may this caller see this
image?" (404 when not, so private images do not leak their existence) and "may this caller
change it?" (403 when visible but not theirs).
"""
from __future__ import annotations

import logging

from imagesvc.config import ImageConfig
from imagesvc.http_common import HTTPError
from imagesvc.policy import Identity, can_modify, can_see
from imagesvc.registry import Registry
from imagesvc.store import ObjectStore
from imagesvc.upload import ImageDataWriter

log = logging.getLogger("brume.imagesvc")


class ImageService:
    def __init__(self, config: ImageConfig, registry: Registry | None = None,
                 store: ObjectStore | None = None):
        self.config = config
        self.registry = registry or Registry(config.registry_db)
        self.store = store or ObjectStore(
            config.auth_url, config.service_user, config.service_key,
            config.store_account, config.store_timeout,
        )
        self.writer = ImageDataWriter(
            self.store,
            container=config.container,
            segment_container=config.segment_container,
            slo_threshold=config.slo_threshold,
            segment_size=config.segment_size,
            concurrency=config.upload_concurrency,
            queue_chunks=config.segment_queue_chunks,
            max_size=config.max_image_size,
        )

    def membership(self, image_id: str, who: Identity) -> str | None:
        member = self.registry.get_member(image_id, who.project)
        return member["status"] if member else None

    def visible_image(self, image_id: str, who: Identity) -> dict:
        image = self.registry.get(image_id)
        if image is None or not can_see(image, who, self.membership(image_id, who)):
            raise HTTPError(404, f"No image found with ID {image_id}")
        return image

    def owned_image(self, image_id: str, who: Identity) -> dict:
        image = self.visible_image(image_id, who)
        if not can_modify(image, who):
            raise HTTPError(403, f"You are not permitted to modify image {image_id}")
        return image

    def remove_data(self, image_id: str, location: dict | None) -> None:
        if location is None:
            return
        if self.writer.delete(location):
            self.registry.forget_location(image_id)
        else:
            log.warning("image %s: some stored data could not be deleted: %s",
                        image_id, location)
